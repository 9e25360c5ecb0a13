package proxy

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestStatusShowsTheLatestRateLimits: the limits an upstream states on its
// answers reach /_clearway/status (and so the tray and dashboard), and an
// answer without them keeps the last known values.
func TestStatusShowsTheLatestRateLimits(t *testing.T) {
	var n atomic.Int64
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("anthropic-ratelimit-tokens-limit", "40000")
			w.Header().Set("anthropic-ratelimit-tokens-remaining", "38000")
			w.Header().Set("anthropic-ratelimit-tokens-reset", "2026-11-30T12:03:00Z")
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	for i := 0; i < 2; i++ {
		readAll(t, tp.do(t, "GET", "/api/v1/models", nil, nil))
		st := tp.srv.Status()
		rl := st.Upstreams[0].RateLimits
		if len(rl) != 1 || rl[0].Name != "tokens" || rl[0].Limit != 40000 || rl[0].Remaining != 38000 || rl[0].Reset.IsZero() {
			t.Fatalf("after answer %d: rate limits %+v", i+1, rl)
		}
	}
}
