package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/seam"
)

// poolKeys is a two-key pool: key "a" is refused by the upstream, and a 401
// with it makes the pool ask for a switch to "b".
type poolKeys struct {
	mu       sync.Mutex
	next     string
	attempts []int
	outcomes []seam.Outcome
}

func (p *poolKeys) Credential(_ context.Context, req seam.KeyRequest) (seam.Credential, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts = append(p.attempts, req.Attempt)
	if p.next == "" {
		p.next = "a"
	}
	h := http.Header{}
	h.Set("X-Api-Key", "secret-"+p.next)
	return seam.Credential{Upstream: req.Upstream, Name: p.next, Header: h}, nil
}

func (p *poolKeys) Report(c seam.Credential, o seam.Outcome) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outcomes = append(p.outcomes, o)
	if o.Status == http.StatusUnauthorized && c.Name == "a" {
		p.next = "b"
		return true
	}
	return false
}

// pauseRecorder is a Limiter that lets everything through and records Pause.
type pauseRecorder struct {
	seam.NoLimit
	mu     sync.Mutex
	pauses []string
	acq    atomic.Int64
}

func (l *pauseRecorder) Acquire(ctx context.Context, upstream string) (func(), error) {
	l.acq.Add(1)
	return l.NoLimit.Acquire(ctx, upstream)
}

func (l *pauseRecorder) Pause(upstream, key string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauses = append(l.pauses, upstream+"/"+key)
}

// countingTransports wraps the default transports and counts round trips.
type countingTransports struct {
	trips atomic.Int64
	built []string
}

func (c *countingTransports) Transport(name string, u *url.URL) (http.RoundTripper, error) {
	c.built = append(c.built, name+" "+u.Host)
	rt, err := seam.HTTPTransports{}.Transport(name, u)
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.trips.Add(1)
		return rt.RoundTrip(r)
	}), err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSeamsArePluggable(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Api-Key") {
		case "secret-b":
			w.Write([]byte(`{"ok":true}`))
		default:
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer up.Close()
	keys := &poolKeys{}
	lim := &pauseRecorder{}
	tr := &countingTransports{}
	tp := startProxy(t, retryConfig, up, func(o *Options) {
		o.Credentials, o.Limiter, o.Transports = keys, lim, tr
	})
	resp := tp.do(t, "POST", "/api/v1/messages", nil, nil)
	body := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "2" {
		t.Fatalf("got %d attempts %q %s, want 200 after 2 attempts (switched to key b)", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), body)
	}
	if w := tp.clock.waits(); len(w) != 1 || w[0] != 0 {
		t.Errorf("retry waits %v: a key switch goes at once", w)
	}
	keys.mu.Lock()
	defer keys.mu.Unlock()
	if len(keys.attempts) != 2 || keys.attempts[0] != 1 || keys.attempts[1] != 2 {
		t.Errorf("credential asked for attempts %v, want [1 2]", keys.attempts)
	}
	if len(keys.outcomes) != 2 || keys.outcomes[0].Status != 401 || !keys.outcomes[0].HasAfter || keys.outcomes[0].After != 5*time.Second || keys.outcomes[1].Status != 200 {
		t.Errorf("outcomes %+v, want 401 (after 5s) then 200", keys.outcomes)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if len(lim.pauses) != 1 || lim.pauses[0] != "api/a" || lim.acq.Load() != 1 {
		t.Errorf("pauses %v acquires %d, want [api/a] and 1", lim.pauses, lim.acq.Load())
	}
	if tr.trips.Load() != 2 || len(tr.built) != 1 {
		t.Errorf("transport: %d round trips, built %v; want 2 and one", tr.trips.Load(), tr.built)
	}
}

// failingLimiter fails with an error that is not a refusal.
type failingLimiter struct{ seam.NoLimit }

func (failingLimiter) Acquire(context.Context, string) (func(), error) {
	return nil, errors.New("budget store unreachable")
}

func TestLimiterRefusalAndFailure(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	tp := startProxy(t, retryConfig, up, func(o *Options) { o.Limiter = failingLimiter{} })
	resp := tp.do(t, "GET", "/api/x", nil, nil)
	readAll(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || hits.Load() != 0 {
		t.Fatalf("limiter failure: %d, upstream hits %d; want 503 and 0", resp.StatusCode, hits.Load())
	}
}

func TestNoCredentialError(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	tp := startProxy(t, retryConfig, up, func(o *Options) { o.Credentials = emptyPool{} })
	resp := tp.do(t, "GET", "/api/x", nil, nil)
	readAll(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no credential: %d, want 503", resp.StatusCode)
	}
}

type emptyPool struct{ seam.NoCredentials }

func (emptyPool) Credential(context.Context, seam.KeyRequest) (seam.Credential, error) {
	return seam.Credential{}, seam.ErrNoCredential
}
