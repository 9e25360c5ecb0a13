package usage

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// fixtures are answers in the exact shapes the APIs send, with what a reader
// must find in them.
var fixtures = []struct {
	file, ctype, model string
	want               Tokens
}{
	{"anthropic.json", "application/json", "claude-sonnet-4-5-20250929", Tokens{Input: 2095, Output: 503, CacheRead: 1200, CacheWrite: 2051}},
	{"anthropic.sse", "text/event-stream; charset=utf-8", "claude-opus-4-1-20250805", Tokens{Input: 472, Output: 89, CacheRead: 3000, CacheWrite: 100}},
	{"openai-chat.json", "application/json", "gpt-4o-2024-08-06", Tokens{Input: 93, Output: 46, CacheRead: 1024}},
	{"openai-chat.sse", "text/event-stream", "gpt-4o-mini-2024-07-18", Tokens{Input: 252, Output: 12, CacheRead: 2048}},
	{"openai-responses.sse", "text/event-stream", "gpt-4.1-2025-04-14", Tokens{Input: 25, Output: 11, CacheRead: 512}},
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// meterPieces feeds body to a meter in pieces of size n (0: at once).
func meterPieces(ctype, enc string, body []byte, n int) (string, Tokens, bool) {
	m := NewMeter(ctype, enc)
	if n <= 0 {
		n = len(body) + 1
	}
	for len(body) > 0 {
		k := min(n, len(body))
		_, _ = m.Write(body[:k])
		body = body[k:]
	}
	m.Finish()
	return m.Result()
}

func TestMeterFixtures(t *testing.T) {
	for _, f := range fixtures {
		body := readFixture(t, f.file)
		for _, n := range []int{0, 1, 2, 7, 64} {
			model, got, ok := meterPieces(f.ctype, "", body, n)
			if !ok || got != f.want || model != f.model {
				t.Errorf("%s in pieces of %d: got %q %+v found=%v, want %q %+v", f.file, n, model, got, ok, f.model, f.want)
			}
		}
	}
}

func TestMeterCRLF(t *testing.T) {
	f := fixtures[1]
	body := bytes.ReplaceAll(readFixture(t, f.file), []byte("\n"), []byte("\r\n"))
	for _, n := range []int{0, 1, 3} {
		if model, got, _ := meterPieces(f.ctype, "", body, n); got != f.want || model != f.model {
			t.Errorf("CRLF pieces of %d: got %q %+v, want %+v", n, model, got, f.want)
		}
	}
}

func TestMeterEncoded(t *testing.T) {
	for _, f := range fixtures {
		body := readFixture(t, f.file)
		var gz, br bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(body)
		_ = zw.Close()
		bw := brotli.NewWriter(&br)
		_, _ = bw.Write(body)
		_ = bw.Close()
		zw2, _ := zstd.NewWriter(nil)
		zs := zw2.EncodeAll(body, nil)
		for enc, data := range map[string][]byte{"gzip": gz.Bytes(), "br": br.Bytes(), "zstd": zs} {
			for _, n := range []int{0, 5} {
				model, got, ok := meterPieces(f.ctype, enc, data, n)
				if !ok || got != f.want || model != f.model {
					t.Errorf("%s %s pieces of %d: got %q %+v, want %q %+v", f.file, enc, n, model, got, f.model, f.want)
				}
			}
		}
	}
}

func TestMeterNothingToRead(t *testing.T) {
	cases := []struct{ ctype, enc, body string }{
		{"text/html", "", `<html>{"usage":{"input_tokens":5}}</html>`},
		{"application/json", "zstd", "\x28\xb5\x2f\xfd garbage"},
		{"application/json", "gzip", "not gzip at all"},
		{"application/json", "", `{"error":{"type":"rate_limit_error","message":"slow down"}}`},
		{"application/json", "", `[1,2,{"usage":{"input_tokens":5}}]`},
		{"text/event-stream", "", "data: [DONE]\n\n"},
		{"application/json", "", `{"usage":{"input_tokens":-5,"output_tokens":1.5}}`},
	}
	for _, c := range cases {
		model, got, ok := meterPieces(c.ctype, c.enc, []byte(c.body), 3)
		if ok || got != (Tokens{}) || model != "" {
			t.Errorf("%s %s %q: got %q %+v found=%v, want nothing", c.ctype, c.enc, c.body, model, got, ok)
		}
	}
}

func TestMeterTruncatedStreamKeepsWhatArrived(t *testing.T) {
	f := fixtures[1]
	body := readFixture(t, f.file)
	cut := bytes.Index(body, []byte("event: content_block_stop"))
	model, got, ok := meterPieces(f.ctype, "", body[:cut], 0)
	want := Tokens{Input: 472, Output: 2, CacheRead: 3000, CacheWrite: 100} // message_start only
	if !ok || got != want || model != f.model {
		t.Errorf("got %q %+v, want %+v", model, got, want)
	}
}

// TestWrapReadsAfterForwarding checks the zero-delay contract: a piece is
// read only on the NEXT Read (after the caller forwarded it), or on Close.
func TestWrapReadsAfterForwarding(t *testing.T) {
	f := fixtures[0]
	m := NewMeter(f.ctype, "")
	body := m.Wrap(io.NopCloser(bytes.NewReader(readFixture(t, f.file))))
	buf := make([]byte, 1<<20)
	n, _ := body.Read(buf)
	if n == 0 {
		t.Fatal("no bytes")
	}
	if m.sc.started {
		t.Fatal("the meter read a piece before the caller's next Read")
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		t.Fatal(err)
	}
	_ = body.Close()
	_ = body.Close() // twice is fine
	if model, got, _ := m.Result(); got != f.want || model != f.model {
		t.Errorf("got %q %+v, want %+v", model, got, f.want)
	}
}

func TestMeterStreamed(t *testing.T) {
	if !NewMeter("text/event-stream", "").Streamed() || NewMeter("application/json", "").Streamed() {
		t.Error("Streamed is wrong")
	}
}

func TestDecodeBombIsBounded(t *testing.T) {
	defer func(old int64) { maxDecoded = old }(maxDecoded)
	maxDecoded = 1 << 20
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"model":"m","pad":"`))
	pad := []byte(strings.Repeat("a", 1<<20))
	for range 8 { // 8 MiB decoded, over the cap; the usage after it is never read
		_, _ = zw.Write(pad)
	}
	_, _ = zw.Write([]byte(`","usage":{"input_tokens":5}}`))
	_ = zw.Close()
	data := append([]byte(nil), gz.Bytes()...)
	m := NewMeter("application/json", "gzip")
	_, _ = m.Write(data)
	m.Finish()
	if _, _, ok := m.Result(); ok {
		t.Error("found tokens in padding")
	}
}

// TestEncodedGarbage feeds mutated answers, compressed and then damaged, in
// random pieces through the decoder: every one finishes (the decoder
// goroutine never blocks a writer or spins) with bounded, non-negative counts.
func TestEncodedGarbage(t *testing.T) {
	var seeds [][]byte
	for _, f := range fixtures {
		seeds = append(seeds, readFixture(t, f.file))
	}
	rng := rand.New(rand.NewSource(7))
	for i := range 600 {
		b := append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
		b = b[:1+rng.Intn(len(b))]
		var buf bytes.Buffer
		enc := []string{"gzip", "br", "zstd", "deflate"}[i%4]
		switch enc {
		case "gzip":
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
		case "br":
			bw := brotli.NewWriter(&buf)
			_, _ = bw.Write(b)
			_ = bw.Close()
		case "zstd":
			zw, _ := zstd.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
		case "deflate":
			buf.Write(b) // not zlib at all
		}
		data := buf.Bytes()
		if rng.Intn(2) == 0 && len(data) > 0 {
			data[rng.Intn(len(data))] ^= byte(1 + rng.Intn(255))
		}
		if rng.Intn(3) == 0 {
			data = data[:rng.Intn(len(data)+1)]
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			model, tok, _ := meterPieces("text/event-stream", enc, data, 1+rng.Intn(64))
			check(t, model, tok)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("case %d (%s) did not finish", i, enc)
		}
	}
}

// TestMeterReleaseReuse: a released Meter comes back from NewMeter as new:
// each fixture read after another (of any kind) through released Meters
// gives its own result, and one that reads nothing reports nothing.
func TestMeterReleaseReuse(t *testing.T) {
	for round := 0; round < 3; round++ {
		for _, f := range fixtures {
			m := NewMeter(f.ctype, "")
			body := m.Wrap(io.NopCloser(bytes.NewReader(readFixture(t, f.file))))
			if _, err := io.Copy(io.Discard, body); err != nil {
				t.Fatal(err)
			}
			_ = body.Close()
			model, tok, ok := m.Result()
			if !ok || model != f.model || tok != f.want {
				t.Errorf("round %d %s: %q %+v %v, want %q %+v", round, f.file, model, tok, ok, f.model, f.want)
			}
			m.Release()
			empty := NewMeter("text/plain", "")
			if model, tok, ok := empty.Result(); ok || model != "" || tok != (Tokens{}) || empty.Streamed() {
				t.Errorf("round %d after %s: a new Meter reports %q %+v %v", round, f.file, model, tok, ok)
			}
			empty.Release()
		}
	}
}
