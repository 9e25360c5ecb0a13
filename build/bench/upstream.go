package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// jsonBodySize is the size in bytes of the mock upstream's non-streaming answer.
const jsonBodySize = 1024

// holdSafetyTimeout ends a held stream that was never released, so a crashed
// harness cannot leave connections open for ever.
const holdSafetyTimeout = 60 * time.Second

// mockUpstream is the HTTP handler of the mock LLM API that every target
// forwards to. It serves:
//
//	/json          a ~1 KB JSON answer with Content-Length (any method; the request body is read and discarded)
//	/sse?n=N&gap=D N server-sent events, one every D (schedule-based, no drift); each carries its send time
//	/hold?batch=B&n=N  one event at once, then waits for POST /release?batch=B, then the other N-1 events
//	/release?batch=B   releases every held stream of batch B (earlier or later)
//	/anthropic?ttfb=T&n=N&gap=D  an Anthropic Messages stream: nothing for T, then
//	                   message_start (with usage) and content_block_start, N
//	                   content_block_delta events D apart, then content_block_stop,
//	                   message_delta (with usage) and message_stop: N+5 events
//
// Each event's data is {"i":INDEX,"t":UNIX_NANOS_WHEN_WRITTEN,"pad":"..."} so the
// client can measure per-event delay against the send schedule.
//
// The zero value is not usable; use newMockUpstream. Safe for concurrent use.
type mockUpstream struct {
	jsonBody []byte

	mu      sync.Mutex
	batches map[string]chan struct{}
}

// newMockUpstream returns a mock upstream handler.
func newMockUpstream() *mockUpstream {
	return &mockUpstream{jsonBody: makeJSONBody(jsonBodySize), batches: map[string]chan struct{}{}}
}

// makeJSONBody returns an Anthropic-shaped message answer padded to exactly size bytes.
func makeJSONBody(size int) []byte {
	head := `{"id":"msg_bench","type":"message","role":"assistant","model":"bench-model","stop_reason":"end_turn",` +
		`"usage":{"input_tokens":12,"output_tokens":240},"content":[{"type":"text","text":"`
	tail := `"}]}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

// ssePad is the filler that brings each event to about the size of an
// Anthropic content_block_delta event.
var ssePad = strings.Repeat("y", 120)

// ServeHTTP implements http.Handler. A POST to /ccr is routed to the path
// and query in its body's "bench_path" (see ccrRewrite): the peer proxy
// claude-code-router sends every request to one fixed URL.
func (m *mockUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ccr" {
		b, _ := io.ReadAll(r.Body)
		path, ok := benchPath(b)
		if !ok {
			http.Error(w, "no bench_path in the body", http.StatusBadRequest)
			return
		}
		u, err := r.URL.Parse(path)
		if err != nil {
			http.Error(w, "bad bench_path", http.StatusBadRequest)
			return
		}
		r.URL = u
	}
	_, _ = io.Copy(io.Discard, r.Body)
	switch r.URL.Path {
	case "/json":
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(m.jsonBody)))
		_, _ = w.Write(m.jsonBody)
	case "/sse":
		n, gap, err := sseParams(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m.serveSSE(w, r, n, gap)
	case "/hold":
		n, _, err := sseParams(r)
		if err != nil || n < 1 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		m.serveHold(w, r, r.URL.Query().Get("batch"), n)
	case "/anthropic":
		n, gap, err := sseParams(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ttfb, err := time.ParseDuration(r.URL.Query().Get("ttfb"))
		if err != nil || ttfb < 0 {
			http.Error(w, "bad ttfb", http.StatusBadRequest)
			return
		}
		m.serveAnthropic(w, r, ttfb, n, gap)
	case "/release":
		m.release(r.URL.Query().Get("batch"))
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// sseParams reads n (event count, default 50) and gap (default 0) from the query.
func sseParams(r *http.Request) (int, time.Duration, error) {
	q := r.URL.Query()
	n := 50
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, 0, fmt.Errorf("bad n %q", s)
		}
		n = v
	}
	var gap time.Duration
	if s := q.Get("gap"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			return 0, 0, fmt.Errorf("bad gap %q", s)
		}
		gap = v
	}
	return n, gap, nil
}

// batch returns the release channel of a hold batch, creating it when needed.
func (m *mockUpstream) batch(id string) chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, ok := m.batches[id]
	if !ok {
		ch = make(chan struct{})
		m.batches[id] = ch
	}
	return ch
}

// release closes the release channel of a hold batch (once), so streams held
// now or later in that batch go on. Batch ids are never reused by the harness.
func (m *mockUpstream) release(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch, ok := m.batches[id]
	if !ok {
		ch = make(chan struct{})
		m.batches[id] = ch
	}
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// startSSE writes the event-stream headers and returns the flusher.
func startSSE(w http.ResponseWriter) (http.Flusher, bool) {
	f, ok := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return f, ok
}

// writeEvent writes event i stamped with the current wall-clock time and flushes it.
func writeEvent(w io.Writer, f http.Flusher, buf []byte, i int) ([]byte, error) {
	buf = buf[:0]
	buf = append(buf, "event: content_block_delta\ndata: {\"i\":"...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, ",\"t\":"...)
	buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
	buf = append(buf, ",\"pad\":\""...)
	buf = append(buf, ssePad...)
	buf = append(buf, "\"}\n\n"...)
	if _, err := w.Write(buf); err != nil {
		return buf, err
	}
	f.Flush()
	return buf, nil
}

// serveSSE sends n events, event i due at start+i*gap.
func (m *mockUpstream) serveSSE(w http.ResponseWriter, r *http.Request, n int, gap time.Duration) {
	f, ok := startSSE(w)
	if !ok {
		return
	}
	buf := make([]byte, 0, 256)
	start := time.Now()
	var timer *time.Timer
	for i := 0; i < n; i++ {
		if gap > 0 && i > 0 {
			// Schedule-based pacing: event i is due at start+i*gap, so timer
			// overshoot does not accumulate.
			wait := time.Until(start.Add(time.Duration(i) * gap))
			if wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-r.Context().Done():
					return
				}
			}
		}
		var err error
		if buf, err = writeEvent(w, f, buf, i); err != nil {
			return
		}
	}
}

// serveHold sends event 0, waits for the batch's release, then sends the rest.
func (m *mockUpstream) serveHold(w http.ResponseWriter, r *http.Request, batch string, n int) {
	release := m.batch(batch)
	f, ok := startSSE(w)
	if !ok {
		return
	}
	buf := make([]byte, 0, 256)
	buf, err := writeEvent(w, f, buf, 0)
	if err != nil {
		return
	}
	safety := time.NewTimer(holdSafetyTimeout)
	defer safety.Stop()
	select {
	case <-release:
	case <-safety.C:
	case <-r.Context().Done():
		return
	}
	for i := 1; i < n; i++ {
		if buf, err = writeEvent(w, f, buf, i); err != nil {
			return
		}
	}
}

// runUpstreamRole serves the mock upstream on addr until standard input
// reaches end of file (the harness closed it or died) or ctx ends. It prints
// "listening ADDR" on standard output once the listener is open.
func runUpstreamRole(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("upstream listen: %w", err)
	}
	srv := &http.Server{Handler: newMockUpstream(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening %s\n", ln.Addr())
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		close(stdinClosed)
	}()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	case err := <-done:
		return fmt.Errorf("upstream serve: %w", err)
	}
	_ = srv.Close()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("upstream serve: %w", err)
	}
	return nil
}

// anthropicEvents are the fixed parts of the realistic stream: each event's
// JSON after its "i" and "t" members (the client's order and timing stamps,
// which the usage readers ignore).
var (
	anthropicStart      = `,"message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":1024,"output_tokens":1}}}`
	anthropicBlockStart = `,"index":0,"content_block":{"type":"text","text":""}}`
	anthropicDelta      = `,"index":0,"delta":{"type":"text_delta","text":"` + strings.Repeat("word ", 10) + `"}}`
	anthropicBlockStop  = `,"index":0}`
	anthropicMsgDelta   = `,"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":503}}`
	anthropicStop       = `}`
)

// writeAnthropicEvent writes one named event of the realistic stream, stamped
// with index i and the current wall-clock time, and flushes it.
func writeAnthropicEvent(w io.Writer, f http.Flusher, buf []byte, name string, i int, rest string) ([]byte, error) {
	buf = buf[:0]
	buf = append(buf, "event: "...)
	buf = append(buf, name...)
	buf = append(buf, "\ndata: {\"type\":\""...)
	buf = append(buf, name...)
	buf = append(buf, "\",\"i\":"...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, ",\"t\":"...)
	buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
	buf = append(buf, rest...)
	buf = append(buf, "\n\n"...)
	if _, err := w.Write(buf); err != nil {
		return buf, err
	}
	f.Flush()
	return buf, nil
}

// serveAnthropic sends the realistic stream: headers and message_start after
// ttfb, n deltas gap apart (schedule-based, like serveSSE), then the end events.
func (m *mockUpstream) serveAnthropic(w http.ResponseWriter, r *http.Request, ttfb time.Duration, n int, gap time.Duration) {
	start := time.Now()
	timer := time.NewTimer(ttfb)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	f, ok := startSSE(w)
	if !ok {
		return
	}
	buf := make([]byte, 0, 512)
	var err error
	i := 0
	send := func(name, rest string) bool {
		buf, err = writeAnthropicEvent(w, f, buf, name, i, rest)
		i++
		return err == nil
	}
	if !send("message_start", anthropicStart) || !send("content_block_start", anthropicBlockStart) {
		return
	}
	first := start.Add(ttfb)
	for k := 0; k < n; k++ {
		if wait := time.Until(first.Add(time.Duration(k+1) * gap)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				return
			}
		}
		if !send("content_block_delta", anthropicDelta) {
			return
		}
	}
	_ = send("content_block_stop", anthropicBlockStop) && send("message_delta", anthropicMsgDelta) && send("message_stop", anthropicStop)
}
