package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/clearway/clearway/proxy/seam"
)

// chargeRecorder is a Limiter that lets everything through and records Charge.
type chargeRecorder struct {
	seam.NoLimit
	mu      sync.Mutex
	charges []int64
	ups     []string
}

func (l *chargeRecorder) Charge(upstream, _ string, tokens int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.charges = append(l.charges, tokens)
	l.ups = append(l.ups, upstream)
}

func (l *chargeRecorder) got() ([]int64, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int64(nil), l.charges...), append([]string(nil), l.ups...)
}

// The usage an answer reports is charged to the Limiter (for token
// budgets): input + cache writes + output, not cache reads; an answer
// without usage charges nothing.
func TestUsageIsChargedToTheLimiter(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/base/none" {
			_, _ = io.WriteString(w, `{"ok":true}`)
			return
		}
		_, _ = io.WriteString(w, `{"model":"m","usage":{"input_tokens":100,"output_tokens":20,"cache_read_input_tokens":1000,"cache_creation_input_tokens":5}}`)
	}))
	defer up.Close()
	lim := &chargeRecorder{}
	tp := startProxy(t, retryConfig, up, func(o *Options) { o.Limiter = lim })
	for _, path := range []string{"/api/v1/messages", "/api/none"} {
		resp := tp.do(t, "POST", path, nil, nil)
		readAll(t, resp)
	}
	waitFor(t, "the charge", 5e9, func() bool { c, _ := lim.got(); return len(c) > 0 })
	charges, ups := lim.got()
	if len(charges) != 1 || charges[0] != 125 || ups[0] != "api" {
		t.Fatalf("charges = %v %v, want one of 125 tokens to api", charges, ups)
	}
}
