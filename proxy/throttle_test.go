package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/events"
)

func TestLocalThrottle(t *testing.T) {
	t.Run("concurrency full: local 429, upstream not reached", func(t *testing.T) {
		var hits atomic.Int64
		entered := make(chan struct{}, 1)
		release := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			entered <- struct{}{}
			<-release
		}))
		defer up.Close()
		defer close(release)
		tp := startProxy(t, strings.Replace(retryConfig, "url: %UPSTREAM%/base", "url: %UPSTREAM%/base\n    throttle: {max_concurrent: 1, max_queue_wait: 50ms}", 1), up)
		sub, cancel := tp.bus.Subscribe(16)
		defer cancel()
		first := make(chan int, 1)
		go func() {
			resp, err := http.Get(tp.base + "/api/slow")
			if err != nil {
				first <- 0
				return
			}
			resp.Body.Close()
			first <- resp.StatusCode
		}()
		<-entered // the one slot is taken
		resp := tp.do(t, "GET", "/api/second", nil, nil)
		e := proxyError(t, readAll(t, resp))
		if resp.StatusCode != 429 || e.Error.Type != errRateLimit || !strings.Contains(e.Error.Message, "local throttle") || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("second request: %d %+v Retry-After %q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
		}
		// Waiting for a turn is what helps: the client may retry after Retry-After.
		if got := resp.Header.Get("X-Should-Retry"); got != "" {
			t.Errorf("a local throttle refusal says x-should-retry %q; it must leave the retry to Retry-After", got)
		}
		if hits.Load() != 1 {
			t.Fatalf("upstream saw %d requests, want 1", hits.Load())
		}
		// Run publishes "listening" after Ready, so it may come first.
		ev := <-sub
		for ev.Kind == events.Listening {
			ev = <-sub
		}
		if ev.Kind != events.Throttled || ev.Upstream != "api" {
			t.Errorf("event %+v, want throttled for api", ev)
		}
		release <- struct{}{}
		if got := <-first; got != 200 {
			t.Errorf("first request: %d", got)
		}
	})
	t.Run("rate: waits its turn within max_queue_wait, refused beyond", func(t *testing.T) {
		var hits atomic.Int64
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		defer up.Close()
		tp := startProxy(t, strings.Replace(retryConfig, "url: %UPSTREAM%/base", "url: %UPSTREAM%/base\n    throttle: {requests_per_minute: 60, max_queue_wait: 1500ms}", 1), up)
		for i, want := range []int{200, 200} {
			resp := tp.do(t, "GET", "/api/x", nil, nil)
			readAll(t, resp)
			if resp.StatusCode != want {
				t.Fatalf("request %d: %d, want %d", i+1, resp.StatusCode, want)
			}
		}
		// The second one waited a token (one per second at 60/min); the
		// recording clock does not move, so a third would need 2 s > 1.5 s.
		if w := tp.clock.waits(); len(w) != 1 || w[0] < 900*time.Millisecond || w[0] > time.Second {
			t.Fatalf("throttle waits %v, want one of ~1s", w)
		}
		resp := tp.do(t, "GET", "/api/x", nil, nil)
		readAll(t, resp)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || hits.Load() != 2 {
			t.Fatalf("third request: %d Retry-After %q, upstream hits %d", resp.StatusCode, resp.Header.Get("Retry-After"), hits.Load())
		}
	})
}
