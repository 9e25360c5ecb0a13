package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// lockstepSSE sends event i only after the test acknowledged event i-1. If
// the proxy held events back (buffering until the end), the test would never
// acknowledge and the upstream would never send the next: arrival order proves
// each event was delivered on its own, without relying on timing.
type lockstepSSE struct {
	n      int
	acks   chan int
	die    bool     // hijack and drop the connection after half the events
	pieces []string // when set, these raw pieces are sent instead of n generated events
}

func (l *lockstepSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	n := l.n
	if l.pieces != nil {
		n = len(l.pieces)
	}
	for i := range n {
		if l.die && i == n/2 {
			conn, _, err := rc.Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		if l.pieces != nil {
			_, _ = io.WriteString(w, l.pieces[i])
		} else {
			fmt.Fprintf(w, "event: content_block_delta\ndata: {\"index\":%d}\n\n", i)
		}
		_ = rc.Flush()
		select {
		case got := <-l.acks:
			if got != i {
				return
			}
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			return
		}
	}
}

func readEvents(t *testing.T, resp *http.Response, ack chan<- int) (int, error) {
	t.Helper()
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		want := fmt.Sprintf(`data: {"index":%d}`, n)
		if line != want {
			t.Fatalf("event %d: got %q, want %q", n, line, want)
		}
		ack <- n
		n++
	}
	return n, sc.Err()
}

func TestSSEEventsArriveOneByOne(t *testing.T) {
	up := httptest.NewServer(&lockstepSSE{n: 20, acks: make(chan int, 1)})
	defer up.Close()
	l := up.Config.Handler.(*lockstepSSE)
	tp := startProxy(t, retryConfig, up)
	resp := tp.do(t, "POST", "/api/v1/messages", strings.NewReader(`{"stream":true}`), nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	n, err := readEvents(t, resp, l.acks)
	resp.Body.Close()
	if err != nil || n != 20 {
		t.Fatalf("got %d events, err %v; want 20 and a clean end", n, err)
	}
}

func TestUpstreamDeathMidStreamAbortsClient(t *testing.T) {
	up := httptest.NewServer(&lockstepSSE{n: 10, acks: make(chan int, 1), die: true})
	defer up.Close()
	l := up.Config.Handler.(*lockstepSSE)
	tp := startProxy(t, retryConfig, up)
	resp := tp.do(t, "GET", "/api/stream", nil, nil)
	n, err := readEvents(t, resp, l.acks)
	resp.Body.Close()
	if n != 5 {
		t.Errorf("got %d events before the cut, want 5", n)
	}
	if err == nil {
		t.Fatal("the client saw a clean end of a stream the upstream cut: a truncated answer must not look complete")
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Logf("client error: %v", err)
	}
}

func TestClientCancelReachesUpstream(t *testing.T) {
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_ = http.NewResponseController(w).Flush()
		close(entered)
		<-r.Context().Done()
		close(cancelled)
	}))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", tp.base+"/api/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-entered
	cancel()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled within 10s of the client leaving")
	}
}

func TestClientCancelDuringRetryWait(t *testing.T) {
	s := &scripted{script: []func(http.ResponseWriter){status(429, map[string]string{"Retry-After": "30"}, "")}}
	up := httptest.NewServer(s)
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	// The recording clock returns ctx.Err() at once; a cancelled client must
	// therefore end the loop after one attempt instead of retrying.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tp.base+"/api/x", nil)
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("a cancelled request succeeded")
	}
	if n := s.n.Load(); n > 1 {
		t.Fatalf("upstream saw %d attempts after the client left", n)
	}
}

func TestShutdownLetsAStreamFinish(t *testing.T) {
	l := &lockstepSSE{n: 6, acks: make(chan int, 1)}
	up := httptest.NewServer(l)
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	resp := tp.do(t, "GET", "/api/stream", nil, nil)
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "data: ") {
			continue
		}
		if n == 2 {
			tp.stop() // SIGTERM-equivalent while the stream is in flight
			waitFor(t, "the listener to close", 5*time.Second, func() bool {
				c, err := http.Get(tp.base + "/_clearway/health")
				if err == nil {
					c.Body.Close()
				}
				return err != nil
			})
		}
		l.acks <- n
		n++
	}
	resp.Body.Close()
	if sc.Err() != nil || n != 6 {
		t.Fatalf("stream during shutdown: %d events, err %v; want all 6", n, sc.Err())
	}
	if err := <-tp.done; err != nil {
		t.Fatalf("Run returned %v after a graceful shutdown", err)
	}
	tp.done <- nil // for the cleanup
}

func TestShutdownCutsWhatOutlivesTheGrace(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	defer up.Close()
	tp := startProxy(t, strings.Replace(retryConfig, "client_token: false", "client_token: false\ntimeouts: {shutdown: 100ms}", 1), up)
	resp := tp.do(t, "GET", "/api/stream", nil, nil)
	tp.stop()
	_, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Error("a stream cut at shutdown ended cleanly")
	}
	select {
	case err := <-tp.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		tp.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the grace period")
	}
}

func TestIsEventStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"":                                   false,
		"text/event-stream":                  true,
		"Text/Event-Stream":                  true,
		"text/event-stream; charset=utf-8":   true,
		"text/event-stream;charset=utf-8":    true,
		"text/event-stream ; charset=utf-8":  true,
		"text/event-streams":                 false,
		"text/event-stream; charset=\"utf-8": false, // unparseable parameters, as before
		"application/json":                   false,
		"text/event":                         false,
		" text/event-stream":                 true, // mime.ParseMediaType trims
		"\ttext/event-stream; charset=utf-8": true,
	} {
		if got := isEventStream(ct); got != want {
			t.Errorf("isEventStream(%q) = %v, want %v", ct, got, want)
		}
	}
}
