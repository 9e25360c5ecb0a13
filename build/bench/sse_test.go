package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newUpstreamServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(newMockUpstream())
	t.Cleanup(srv.Close)
	return srv
}

func TestRunOneStreamCountsAndTimesEvents(t *testing.T) {
	srv := newUpstreamServer(t)
	client := newLoadClient(1)
	defer client.CloseIdleConnections()
	const n, gap = 6, 2 * time.Millisecond
	var st streamStats
	began := time.Now()
	err := runOneStream(context.Background(), client, fmt.Sprintf("%s/sse?n=%d&gap=%s", srv.URL, n, gap), requestBody(100), n, &st)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.delays) != n {
		t.Fatalf("%d event delays, want %d", len(st.delays), n)
	}
	// The upstream paces by schedule: the stream cannot end before (n-1) gaps.
	if took := time.Since(began); took < (n-1)*gap {
		t.Errorf("stream took %v, want >= %v", took, (n-1)*gap)
	}
	if st.ttfe <= 0 {
		t.Errorf("ttfe = %v, want > 0", st.ttfe)
	}
	for i, d := range st.delays {
		if d < -time.Millisecond || d > 5*time.Second {
			t.Errorf("event %d: delay %v is not a plausible loopback delay", i, d)
		}
	}
	// Asking for more events than the stream has is a truncated stream.
	err = runOneStream(context.Background(), client, srv.URL+"/sse?n=3", nil, 4, &streamStats{})
	if err == nil || !strings.Contains(err.Error(), "got 3 events, want 4") {
		t.Errorf("short stream: err = %v, want a count mismatch", err)
	}
}

func TestReadEventsRejectsBrokenStreams(t *testing.T) {
	good := "event: x\ndata: {\"i\":0,\"t\":5}\n\n"
	tests := []struct {
		name, body string
		wantErr    string
		wantEvents int
	}{
		{"two events", good + "data: {\"i\":1,\"t\":6}\n\n", "", 2},
		{"cut inside an event", good + "data: {\"i\":1,\"t\":6}\n", "inside an event", 1},
		{"cut inside a line", good + "data: {\"i\":1", "inside an event", 1},
		{"event without stamps", good + "data: hello\n\n", "lacks i or t", 1},
		{"comment-free blank lines are fine", "\n\n" + good, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := 0
			err := readEvents(strings.NewReader(tt.body), func(sseEvent) error { got++; return nil })
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if got != tt.wantEvents {
				t.Errorf("%d events, want %d", got, tt.wantEvents)
			}
		})
	}
}

// TestStreamCutByServerIsAnError uses a server that hangs up in the middle
// of a stream, as a broken proxy would.
func TestStreamCutByServerIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: {\"i\":0,\"t\":1}\n\ndata: {\"i\":1,"))
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	client := newLoadClient(1)
	defer client.CloseIdleConnections()
	var errs errorLog
	res := runSSE(context.Background(), client, srv.URL, nil, 1, 2, 0, 50*time.Millisecond, &errs)
	if errs.count == 0 || res.streams != 0 {
		t.Errorf("errors %d, complete streams %d: want every stream counted as an error", errs.count, res.streams)
	}
	if res.eventsGot >= res.eventsExpected {
		t.Errorf("events got %d of %d: the cut must show as missing events", res.eventsGot, res.eventsExpected)
	}
}

func TestRunJSONChecksStatusAndLength(t *testing.T) {
	srv := newUpstreamServer(t)
	client := newLoadClient(4)
	defer client.CloseIdleConnections()
	var errs errorLog
	res := runJSON(context.Background(), client, srv.URL+"/json", requestBody(512), 4, 30*time.Millisecond, &errs)
	if errs.count != 0 || res.requests == 0 || len(res.latencies) != res.requests {
		t.Errorf("against the mock: %d requests, %d latencies, errors %d %v", res.requests, len(res.latencies), errs.count, errs.samples)
	}
	var bad errorLog
	res = runJSON(context.Background(), client, srv.URL+"/missing", nil, 2, 20*time.Millisecond, &bad)
	if res.requests != 0 || bad.count == 0 || !strings.Contains(bad.samples[0], "404") {
		t.Errorf("against a 404: %d requests, errors %d %v; want all errors", res.requests, bad.count, bad.samples)
	}
}

func TestOpenStreamsAreHeldUntilRelease(t *testing.T) {
	mock := newMockUpstream()
	var holdsEnded atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mock.ServeHTTP(w, r)
		if r.URL.Path == "/hold" {
			holdsEnded.Add(1)
		}
	}))
	defer srv.Close()
	client := newLoadClient(30)
	defer client.CloseIdleConnections()
	var errs errorLog
	endedWhileOpen := int64(-1)
	const count = 30
	res := runOpenStreams(context.Background(), client, srv.URL, srv.URL, nil, count, openStreamEvents, func() {
		endedWhileOpen = holdsEnded.Load()
	}, &errs)
	if endedWhileOpen != 0 {
		t.Errorf("%d held streams had ended when all were reported open (-1: whileOpen not called)", endedWhileOpen)
	}
	if errs.count != 0 || res.opened != count || res.completed != count || res.eventsGot != count*openStreamEvents {
		t.Errorf("opened %d, completed %d, events %d, errors %d %v; want %d streams of %d events",
			res.opened, res.completed, res.eventsGot, errs.count, errs.samples, count, openStreamEvents)
	}
}

func TestUpstreamJSONBodySize(t *testing.T) {
	if n := len(makeJSONBody(jsonBodySize)); n != jsonBodySize {
		t.Errorf("json body %d bytes, want %d", n, jsonBodySize)
	}
	if n := len(requestBody(512)); n != 512 {
		t.Errorf("request body %d bytes, want 512", n)
	}
}
