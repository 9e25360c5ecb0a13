package proxy

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReplaySource: each reader replays the whole body; a reader lets go of
// the bytes once read to the end; after release no reader is given.
func TestReplaySource(t *testing.T) {
	body := []byte(`{"model":"m","messages":[]}`)
	src := newReplay(body)
	for range 2 {
		r, err := src.reader()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != string(body) {
			t.Fatalf("replayed %q, %v", got, err)
		}
		if rr := r.(*replayReader); rr.b != nil {
			t.Fatal("a reader read to the end still holds the body")
		}
	}
	src.release()
	if _, err := src.reader(); !errors.Is(err, errBodyReleased) {
		t.Fatalf("reader after release: %v, want errBodyReleased", err)
	}
}

// TestReleaseBodyKeepsTheModel: a large request body is let go of once the
// answer is final, and the record still gets the request's model.
func TestReleaseBodyKeepsTheModel(t *testing.T) {
	large := []byte(`{"model":"claude-big","messages":[{"role":"user","content":"` + strings.Repeat("x", releaseLargeBody) + `"}]}`)
	small := []byte(`{"model":"claude-small"}`)
	for _, tc := range []struct {
		body     []byte
		released bool
		model    string
	}{{large, true, "claude-big"}, {small, false, "claude-small"}} {
		rw := &recordWriter{ResponseWriter: httptest.NewRecorder()}
		noteBody(rw, tc.body)
		releaseBody(rw)
		if (rw.body == nil) != tc.released {
			t.Errorf("body of %d bytes released: %v, want %v", len(tc.body), rw.body == nil, tc.released)
		}
		if model := rw.requestModel(); model != tc.model {
			t.Errorf("model %q, want %q", rw.requestModel(), tc.model)
		}
	}
}

// TestReadRequestBodyExactSize: a body of declared length is read into a
// buffer of exactly its size (not doubled), a short one is an error, and
// one of unknown length is read up to limit+1 bytes.
func TestReadRequestBodyExactSize(t *testing.T) {
	body := strings.Repeat("b", 128<<10)
	got, err := readRequestBody(strings.NewReader(body), int64(len(body)), 1<<30)
	if err != nil || string(got) != body {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if cap(got) != len(body) {
		t.Errorf("buffer of %d bytes for a body of %d", cap(got), len(body))
	}
	if _, err := readRequestBody(strings.NewReader(body[:100]), int64(len(body)), 1<<30); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short body: %v, want unexpected EOF", err)
	}
	got, err = readRequestBody(strings.NewReader(body), -1, 1000)
	if err != nil || len(got) != 1001 {
		t.Errorf("unknown length over the limit: %d bytes, %v; want 1001", len(got), err)
	}
	got, err = readRequestBody(strings.NewReader(body), -1, 1<<30)
	if err != nil || string(got) != body {
		t.Errorf("unknown length: %d bytes, %v", len(got), err)
	}
}
