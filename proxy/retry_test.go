package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/health"
)

// scripted answers attempt n with script[n] (the last entry repeats) and
// records each request body.
type scripted struct {
	mu     sync.Mutex
	script []func(w http.ResponseWriter)
	bodies [][]byte
	n      atomic.Int64
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	i := min(int(s.n.Add(1))-1, len(s.script)-1)
	s.mu.Unlock()
	s.script[i](w)
}

func status(code int, headers map[string]string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

const retryConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3, initial_delay: 1s, max_delay: 30s, max_retry_after: 60s}
upstreams:
  api:
    url: %UPSTREAM%/base
`

func TestServerWaitsAreHonoured(t *testing.T) {
	reset := time.Now().Add(7 * time.Second).UTC().Format(time.RFC3339)
	cases := []struct {
		name     string
		headers  map[string]string
		wantWait time.Duration
		slack    time.Duration
	}{
		{"retry-after seconds", map[string]string{"Retry-After": "3"}, 3 * time.Second, 0},
		{"retry-after-ms", map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, 0},
		{"anthropic reset", map[string]string{"Anthropic-Ratelimit-Requests-Reset": reset}, 7 * time.Second, 1500 * time.Millisecond},
		{"openai reset", map[string]string{"X-Ratelimit-Reset-Requests": "2s"}, 2 * time.Second, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := httptest.NewServer(&scripted{script: []func(http.ResponseWriter){
				status(429, tc.headers, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`),
				status(200, nil, `{"ok":true}`),
			}})
			defer up.Close()
			tp := startProxy(t, retryConfig, up)
			resp := tp.do(t, "GET", "/api/v1/models?limit=2", nil, nil)
			readAll(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "2" {
				t.Fatalf("status %d attempts %s", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
			}
			w := tp.clock.waits()
			if len(w) != 1 || w[0] > tc.wantWait || w[0] < tc.wantWait-tc.slack {
				t.Fatalf("waits = %v, want %s (-%s)", w, tc.wantWait, tc.slack)
			}
		})
	}
}

func TestTooLongRetryAfterGoesBackAtOnce(t *testing.T) {
	s := &scripted{script: []func(http.ResponseWriter){status(429, map[string]string{"Retry-After": "120"}, "later")}}
	up := httptest.NewServer(s)
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	resp := tp.do(t, "GET", "/api/x", nil, nil)
	body := readAll(t, resp)
	if resp.StatusCode != 429 || body != "later" || resp.Header.Get("Retry-After") != "120" || s.n.Load() != 1 {
		t.Fatalf("status %d body %q retry-after %q attempts %d; want the 429 unchanged after 1 attempt",
			resp.StatusCode, body, resp.Header.Get("Retry-After"), s.n.Load())
	}
	if len(tp.clock.waits()) != 0 {
		t.Errorf("waited %v", tp.clock.waits())
	}
}

func TestBodyReplayedByteForByte(t *testing.T) {
	s := &scripted{script: []func(http.ResponseWriter){
		status(503, nil, "busy"), status(529, nil, `{"type":"error","error":{"type":"overloaded_error"}}`), status(200, nil, "done"),
	}}
	up := httptest.NewServer(s)
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	payload := make([]byte, 3<<20)
	_, _ = rand.Read(payload)
	resp := tp.do(t, "POST", "/api/v1/messages", bytes.NewReader(payload), http.Header{"Content-Type": {"application/octet-stream"}})
	if body := readAll(t, resp); resp.StatusCode != 200 || body != "done" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	want := sha256.Sum256(payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) != 3 {
		t.Fatalf("upstream saw %d attempts, want 3", len(s.bodies))
	}
	for i, b := range s.bodies {
		if sha256.Sum256(b) != want {
			t.Errorf("attempt %d: body differs (%d bytes, want %d)", i+1, len(b), len(payload))
		}
	}
	// Backoff doubles: 1s then 2s, less at most 25% jitter.
	w := tp.clock.waits()
	if len(w) != 2 || w[0] < 750*time.Millisecond || w[0] > time.Second || w[1] < 1500*time.Millisecond || w[1] > 2*time.Second {
		t.Errorf("waits = %v, want ~1s then ~2s", w)
	}
}

// TestGiveUpPassesTheLastAnswerThrough: after clearway's own retries the
// upstream's last answer goes back as it came, except that by default it says
// `x-should-retry: false` (clearway is the one retry authority: an SDK
// retrying on top would multiply the attempts); with retry.client_retries:
// allow the upstream's own x-should-retry goes back untouched.
func TestGiveUpPassesTheLastAnswerThrough(t *testing.T) {
	for _, tc := range []struct {
		name, config, want string
	}{
		{"default", retryConfig, "false"},
		{"client_retries allow", strings.Replace(retryConfig, "max_retry_after: 60s}", "max_retry_after: 60s, client_retries: allow}", 1), "true"},
	} {
		t.Run(tc.name, func(t *testing.T) { testGiveUpPassesTheLastAnswerThrough(t, tc.config, tc.want) })
	}
}

func testGiveUpPassesTheLastAnswerThrough(t *testing.T, config, wantShouldRetry string) {
	s := &scripted{script: []func(http.ResponseWriter){
		status(429, map[string]string{"Retry-After": "1", "X-Should-Retry": "true", "Anthropic-Ratelimit-Tokens-Remaining": "0"}, "attempt-body"),
	}}
	up := httptest.NewServer(s)
	defer up.Close()
	tp := startProxy(t, config, up)
	sub, cancel := tp.bus.Subscribe(64)
	defer cancel()
	resp := tp.do(t, "GET", "/api/x", nil, nil)
	body := readAll(t, resp)
	if resp.StatusCode != 429 || body != "attempt-body" || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("Anthropic-Ratelimit-Tokens-Remaining") != "0" || resp.Header.Get("X-Should-Retry") != wantShouldRetry {
		t.Fatalf("got %d %q headers %v; want x-should-retry %q", resp.StatusCode, body, resp.Header, wantShouldRetry)
	}
	if got := resp.Header.Get("X-Clearway-Attempts"); got != "4" || s.n.Load() != 4 {
		t.Fatalf("attempts header %q, upstream saw %d; want 4", got, s.n.Load())
	}
	kinds := map[events.Kind]int{}
	for len(sub) > 0 {
		kinds[(<-sub).Kind]++
	}
	if kinds[events.Retrying] != 3 || kinds[events.GaveUp] != 1 {
		t.Errorf("events = %v, want 3 retrying and 1 gave_up", kinds)
	}
	if st := tp.srv.Status().Upstreams[0]; st.State != health.Failing || st.Failures != 1 {
		t.Errorf("status after give-up: %+v", st)
	}
}

func TestNotRetried(t *testing.T) {
	cases := []struct {
		name string
		resp func(http.ResponseWriter)
	}{
		{"spend limit", status(429, map[string]string{"Content-Type": "application/json"}, `{"type":"error","error":{"type":"rate_limit_error","message":"enforced_spend_limit_reached"}}`)},
		{"400", status(400, nil, `{"error":"bad"}`)},
		{"401", status(401, nil, `{"error":"key"}`)},
		{"x-should-retry false", status(503, map[string]string{"X-Should-Retry": "false"}, "no")},
		{"200", status(200, nil, "fine")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{script: []func(http.ResponseWriter){tc.resp}}
			up := httptest.NewServer(s)
			defer up.Close()
			tp := startProxy(t, retryConfig, up)
			resp := tp.do(t, "POST", "/api/x", strings.NewReader("{}"), nil)
			readAll(t, resp)
			if s.n.Load() != 1 || resp.Header.Get("X-Clearway-Attempts") != "1" {
				t.Fatalf("upstream saw %d attempts, want 1", s.n.Load())
			}
		})
	}
}

func TestUnreachableUpstreamIs502NamingHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	tp := startProxy(t, strings.ReplaceAll(retryConfig, "%UPSTREAM%", "http://"+dead), nil)
	resp := tp.do(t, "GET", "/api/x", nil, nil)
	e := proxyError(t, readAll(t, resp))
	if resp.StatusCode != 502 || !strings.Contains(e.Error.Message, dead) || resp.Header.Get("X-Clearway-Attempts") != "4" {
		t.Fatalf("status %d message %q attempts %s", resp.StatusCode, e.Error.Message, resp.Header.Get("X-Clearway-Attempts"))
	}
}

func TestRouting(t *testing.T) {
	var gotURI atomic.Pointer[string]
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := r.URL.RequestURI()
		gotURI.Store(&u)
	}))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	resp := tp.do(t, "GET", "/api/v1/messages/count_tokens?beta=true&x=a%20b", nil, nil)
	readAll(t, resp)
	if got := *gotURI.Load(); got != "/base/v1/messages/count_tokens?beta=true&x=a%20b" {
		t.Errorf("upstream got %q", got)
	}
	resp = tp.do(t, "GET", "/nope/v1", nil, nil)
	e := proxyError(t, readAll(t, resp))
	if resp.StatusCode != 404 || !strings.Contains(e.Error.Message, "known upstreams: api") {
		t.Errorf("unknown upstream: %d %q", resp.StatusCode, e.Error.Message)
	}
	resp = tp.do(t, "GET", "/_clearway/health", nil, nil)
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("health: %d %q", resp.StatusCode, body)
	}
}

func TestUpstreamErrorsDoNotShowTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	tp := startProxy(t, strings.ReplaceAll(retryConfig, "%UPSTREAM%", "http://"+dead), nil)
	resp := tp.do(t, "GET", "/api/v1/models?key=TESTSECRET-query-key", nil, nil)
	body := readAll(t, resp)
	st := tp.srv.Status().Upstreams[0]
	if strings.Contains(body, "TESTSECRET") || strings.Contains(st.LastError, "TESTSECRET") {
		t.Fatalf("the query string (which may hold a key) leaked: body %q, last_error %q", body, st.LastError)
	}
	if st.LastError == "" {
		t.Fatal("no last_error recorded")
	}
}

func TestHTTP2ToAnUpstreamThatOffersIt(t *testing.T) {
	var proto atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int64(r.ProtoMajor))
	}))
	up.EnableHTTP2 = true
	up.StartTLS()
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	resp := tp.do(t, "GET", "/api/v1/models", nil, nil)
	readAll(t, resp)
	if resp.StatusCode != 200 || proto.Load() != 2 {
		t.Fatalf("status %d, upstream saw HTTP/%d; want HTTP/2", resp.StatusCode, proto.Load())
	}
}
