package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/breaker"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/keypool"
	"github.com/clearway/clearway/proxy/usage"
)

// stepClock is an injected clock whose Sleep moves Now forward by the time
// slept, so a test can see WHEN (in its time) an upstream got a request.
type stepClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newStepClock() *stepClock { return &stepClock{t: time.Now()} }

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.t = c.t.Add(d)
	}
	c.mu.Unlock()
	return ctx.Err()
}

func (c *stepClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func (c *stepClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// keyedUpstream answers by the x-api-key it gets: each key's handler, and
// records which keys came in order.
type keyedUpstream struct {
	mu       sync.Mutex
	seen     []string // key values in arrival order
	handlers map[string]http.HandlerFunc
}

func (u *keyedUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := r.Header.Get("X-Api-Key")
	u.mu.Lock()
	u.seen = append(u.seen, k)
	h := u.handlers[k]
	u.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	if h == nil {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	h(w, r)
}

func (u *keyedUpstream) keys() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

func ok200(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"type":"message","content":[]}`)
}

func rateLimited(retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}`)
	}
}

const (
	keyA = "key-A-" + secretMarker
	keyB = "key-B-" + secretMarker
	keyF = "key-F-" + secretMarker
)

func poolKeysOpt(clock *stepClock, keys *mapKeys) proxyOpt {
	return func(o *Options) {
		o.Keys = keys
		if clock != nil {
			o.Clock = clock
		}
	}
}

const poolConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3, initial_delay: 1s, max_delay: 30s}
upstreams:
  api:
    url: %UPSTREAM%
    keys: [a, b]
`

func post(t *testing.T, tp *testProxy, path, body string) (*http.Response, string) {
	t.Helper()
	resp := tp.do(t, "POST", path, strings.NewReader(body), http.Header{"Content-Type": {"application/json"}})
	return resp, readAll(t, resp)
}

// TestKeyPoolRotatesOnRateLimitAndComesBackAfterTheReset: key A answers
// 429 with retry-after 30, key B 200. One client request succeeds with one
// extra upstream attempt and no wait; the next go to B at once; after the
// reset A is used again.
func TestKeyPoolRotatesOnRateLimitAndComesBackAfterTheReset(t *testing.T) {
	var aLimited atomic.Bool
	aLimited.Store(true)
	u := &keyedUpstream{handlers: map[string]http.HandlerFunc{
		keyA: func(w http.ResponseWriter, r *http.Request) {
			if aLimited.Load() {
				rateLimited("30")(w, r)
				return
			}
			ok200(w, r)
		},
		keyB: ok200,
	}}
	up := httptest.NewTLSServer(u)
	defer up.Close()
	clock := newStepClock()
	tp := startProxy(t, poolConfig, up, poolKeysOpt(clock, &mapKeys{m: map[string]string{"a": keyA, "b": keyB}}))

	resp, body := post(t, tp, "/api/v1/messages", `{}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "2" {
		t.Fatalf("first request: %d after %s attempts (%s), want 200 after 2", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), body)
	}
	if got := u.keys(); len(got) != 2 || got[0] != keyA || got[1] != keyB {
		t.Fatalf("keys sent: %d (want A then B)", len(got))
	}
	for _, d := range clock.slept() {
		if d != 0 {
			t.Fatalf("the switch to key B waited %v; it must go at once", d)
		}
	}
	for i := range 3 {
		resp, _ := post(t, tp, "/api/v1/messages", `{}`)
		if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "1" {
			t.Fatalf("request %d while A cools: %d after %s attempts", i+2, resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
		}
	}
	if got := u.keys(); len(got) != 5 || got[4] != keyB || got[3] != keyB || got[2] != keyB {
		t.Fatalf("while A cools, requests must go to B: %d requests", len(got))
	}
	st := tp.srv.Status().Upstreams[0]
	if len(st.KeyPool) != 2 || st.KeyPool[0].State != keypool.StateCooling || st.KeyPool[0].Until == nil || st.KeyPool[1].State != keypool.StateReady {
		t.Fatalf("status keys: %+v", st.KeyPool)
	}
	aLimited.Store(false)
	clock.advance(30 * time.Second)
	resp, _ = post(t, tp, "/api/v1/messages", `{}`)
	if got := u.keys(); resp.StatusCode != 200 || got[len(got)-1] != keyA {
		t.Fatalf("after the reset: %d, last key A? %v", resp.StatusCode, got[len(got)-1] == keyA)
	}
	if st := tp.srv.Status().Upstreams[0]; st.KeyPool[0].State != keypool.StateReady {
		t.Fatalf("after the reset: %+v", st.KeyPool)
	}
}

// TestKeyPoolSetsAsideARefusedKeyWithOneNotification: a 401 key is set aside
// (named in exactly one key_refused event) until its value changes.
func TestKeyPoolSetsAsideARefusedKeyWithOneNotification(t *testing.T) {
	const newA = "key-A2-" + secretMarker
	u := &keyedUpstream{handlers: map[string]http.HandlerFunc{
		keyA: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
		},
		keyB: ok200,
		newA: ok200,
	}}
	up := httptest.NewTLSServer(u)
	defer up.Close()
	keys := &mapKeys{m: map[string]string{"a": keyA, "b": keyB}}
	tp := startProxy(t, poolConfig, up, poolKeysOpt(nil, keys))
	evs, cancel := tp.bus.Subscribe(256)
	defer cancel()

	for i := range 4 {
		resp, body := post(t, tp, "/api/v1/messages", `{}`)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if got := u.keys(); len(got) != 5 || got[0] != keyA {
		t.Fatalf("upstream saw %d requests, want 5 (A once, then B)", len(got))
	}
	refused := 0
	for len(evs) > 0 {
		if e := <-evs; e.Kind == events.KeyRefused {
			refused++
			if e.Key != "a" || e.Upstream != "api" || !strings.Contains(e.Reason, "401") {
				t.Errorf("key_refused event %+v", e)
			}
		}
	}
	if refused != 1 {
		t.Fatalf("%d key_refused events, want exactly 1", refused)
	}
	if st := tp.srv.Status().Upstreams[0]; st.KeyPool[0].State != keypool.StateRefused || st.KeyPool[0].Why != "401" {
		t.Fatalf("status: %+v", st.KeyPool)
	}
	// The user sets a new value: the key is used again.
	testOutput.secret(newA)
	keys.mu.Lock()
	keys.m["a"] = newA
	keys.mu.Unlock()
	if err := tp.srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	if resp, _ := post(t, tp, "/api/v1/messages", `{}`); resp.StatusCode != 200 {
		t.Fatalf("after the new key: %d", resp.StatusCode)
	}
	if got := u.keys(); got[len(got)-1] != newA {
		t.Fatal("the new value of key a was not used first")
	}
	// Out of credit, then the user adds credit and sets the same key again.
	var broke atomic.Bool
	broke.Store(true)
	u.mu.Lock()
	u.handlers[newA] = func(w http.ResponseWriter, r *http.Request) {
		if broke.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}`)
			return
		}
		ok200(w, r)
	}
	u.mu.Unlock()
	post(t, tp, "/api/v1/messages", `{}`)
	if st := tp.srv.Status().Upstreams[0]; st.KeyPool[0].State != keypool.StateRefused || st.KeyPool[0].Why != "credit balance is too low" {
		t.Fatalf("status after the credit error: %+v", st.KeyPool)
	}
	broke.Store(false)
	if err := tp.srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	n := len(u.keys())
	post(t, tp, "/api/v1/messages", `{}`)
	if got := u.keys(); len(got) != n+1 || got[n] != newA {
		t.Fatal("after the user re-set the same key, it was not tried again first")
	}
}

// TestPreemptiveLimitWaitsForTheReset: after an answer saying the key has 0
// requests left until a reset 2 s ahead, the next request reaches the
// upstream no earlier than the reset (injected clock), and succeeds.
func TestPreemptiveLimitWaitsForTheReset(t *testing.T) {
	clock := newStepClock()
	var mu sync.Mutex
	var arrivals []time.Time
	var reset time.Time
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := clock.Now()
		mu.Lock()
		arrivals = append(arrivals, now)
		if len(arrivals) == 1 {
			reset = now.Add(2 * time.Second)
			w.Header().Set("anthropic-ratelimit-requests-remaining", "0")
			w.Header().Set("anthropic-ratelimit-requests-reset", reset.UTC().Format(time.RFC3339Nano))
		}
		mu.Unlock()
		ok200(w, r)
	}))
	defer up.Close()
	tp := startProxy(t, `
listen: 127.0.0.1:0
client_token: false
max_queue_wait: 10s
upstreams:
  api:
    url: %UPSTREAM%
    key: a
`, up, poolKeysOpt(clock, &mapKeys{m: map[string]string{"a": keyA}}))
	for i := range 2 {
		if resp, body := post(t, tp, "/api/v1/messages", `{}`); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) != 2 {
		t.Fatalf("upstream saw %d requests, want 2", len(arrivals))
	}
	if arrivals[1].Before(reset) {
		t.Fatalf("the second request reached the upstream %v before the reset", reset.Sub(arrivals[1]))
	}
}

// TestPreemptiveLimitBeyondMaxQueueWait: a reset further away than
// max_queue_wait (the time of FULL replenishment) is not waited for: with
// nowhere else to go the request is sent at once and the upstream decides.
// A key cooling after a 429 with a long Retry-After is different: that
// request would meet a known 429, so clearway answers 429 itself.
func TestPreemptiveLimitBeyondMaxQueueWait(t *testing.T) {
	clock := newStepClock()
	var hits atomic.Int64
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("x-ratelimit-remaining-tokens", "0")
		w.Header().Set("x-ratelimit-reset-tokens", "6m0s")
		ok200(w, r)
	}))
	defer up.Close()
	tp := startProxy(t, `
listen: 127.0.0.1:0
client_token: false
max_queue_wait: 10s
upstreams:
  api:
    url: %UPSTREAM%
`, up, poolKeysOpt(clock, &mapKeys{m: map[string]string{}}))
	post(t, tp, "/api/v1/x", `{}`)
	resp, body := post(t, tp, "/api/v1/x", `{}`)
	if resp.StatusCode != 200 || hits.Load() != 2 || len(clock.slept()) != 0 {
		t.Fatalf("got %d (%s), upstream hits %d, waits %v; want 200 from the upstream at once", resp.StatusCode, body, hits.Load(), clock.slept())
	}

	// Two keys both rate limited with Retry-After 45 s: a known 429.
	u := &keyedUpstream{handlers: map[string]http.HandlerFunc{keyA: rateLimited("45"), keyB: rateLimited("45")}}
	up2 := httptest.NewTLSServer(u)
	defer up2.Close()
	tp2 := startProxy(t, strings.Replace(poolConfig, "retry: {max_retries: 3, initial_delay: 1s, max_delay: 30s}", "retry: {max_retries: 3}\nmax_queue_wait: 10s", 1), up2,
		poolKeysOpt(clock, &mapKeys{m: map[string]string{"a": keyA, "b": keyB}}))
	post(t, tp2, "/api/v1/x", `{}`)
	n := len(u.keys())
	resp, body = post(t, tp2, "/api/v1/x", `{}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || len(u.keys()) != n {
		t.Fatalf("both keys rate limited: %d Retry-After %q (%s), upstream got %d more; want a local 429 and none", resp.StatusCode, resp.Header.Get("Retry-After"), body, len(u.keys())-n)
	}
}

// bodyRecorder is an upstream that records the bodies and keys it got and
// answers with handler.
type bodyRecorder struct {
	mu      sync.Mutex
	bodies  [][]byte
	keys    []string
	handler http.HandlerFunc
}

func (b *bodyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.bodies = append(b.bodies, body)
	b.keys = append(b.keys, r.Header.Get("X-Api-Key"))
	b.mu.Unlock()
	b.handler(w, r)
}

func (b *bodyRecorder) got() ([][]byte, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]byte(nil), b.bodies...), append([]string(nil), b.keys...)
}

const fallbackConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 2, initial_delay: 10ms, max_delay: 20ms}
upstreams:
  primary:
    url: %PRIMARY%
    key: a
    fallbacks: [direct]
  direct:
    url: %FALLBACK%
    key: f
    model_map: {claude-opus-4-1: claude-sonnet-4-5}
`

// clientBody is formatted oddly on purpose: only the model may change.
const clientBody = "{\"model\" :\"claude-opus-4-1\",  \"max_tokens\":1024,\n\"messages\":[{\"role\":\"user\",\"content\":\"use claude-opus-4-1 \\u00e9\"}]}"

func startFallbackProxy(t *testing.T, primaryURL string, fb *httptest.Server, extra string) *testProxy {
	t.Helper()
	yaml := strings.ReplaceAll(strings.ReplaceAll(fallbackConfig, "%PRIMARY%", primaryURL), "%FALLBACK%", fb.URL) + extra
	return startProxy(t, yaml, fb, poolKeysOpt(nil, &mapKeys{m: map[string]string{"a": keyA, "f": keyF}}))
}

func TestFallbackReplaysTheBodyWhenThePrimaryFails(t *testing.T) {
	cases := []struct {
		name    string
		primary func(t *testing.T) string // returns the primary's URL
	}{
		{"always 429", func(t *testing.T) string {
			return tlsUpstream(t, rateLimited("1"))
		}},
		{"unreachable", func(t *testing.T) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close() // nothing listens there now: connection refused
			return "https://" + addr
		}},
		{"cloudflare 1015 page", func(t *testing.T) string {
			return tlsUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Server", "cloudflare")
				w.Header().Set("Cf-Ray", "8f00-FRA")
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, "<html><h1>Error 1015</h1><p>You are being rate limited</p></html>")
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			primaryURL := tc.primary(t)
			fb := &bodyRecorder{handler: ok200}
			fbSrv := httptest.NewTLSServer(fb)
			defer fbSrv.Close()
			tp := startFallbackProxy(t, primaryURL, fbSrv, "")
			evs, cancel := tp.bus.Subscribe(256)
			defer cancel()
			resp, body := post(t, tp, "/primary/v1/messages", clientBody)
			if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "direct" {
				t.Fatalf("got %d from %q (%s), want 200 from direct", resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"), body)
			}
			bodies, keys := fb.got()
			want := strings.Replace(clientBody, `"claude-opus-4-1"`, `"claude-sonnet-4-5"`, 1)
			if len(bodies) != 1 || string(bodies[0]) != want {
				t.Fatalf("fallback got %q, want %q", bodies, want)
			}
			if keys[0] != keyF {
				t.Error("the fallback did not get its own key")
			}
			fellBack := false
			for len(evs) > 0 {
				e := <-evs
				if e.Kind == events.FellBack && e.Upstream == "primary" && e.Fallback == "direct" && e.Status == 200 {
					fellBack = true
				}
				if e.Kind == events.GaveUp {
					t.Errorf("gave_up published although the client got the fallback's answer: %+v", e)
				}
			}
			if !fellBack {
				t.Error("no fell_back event")
			}
		})
	}
}

func tlsUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFallbackGetsTheClientBytesByteForByte: without a model_map the
// fallback receives exactly what the client sent, and the primary did too.
func TestFallbackGetsTheClientBytesByteForByte(t *testing.T) {
	prim := &bodyRecorder{handler: rateLimited("1")}
	primSrv := httptest.NewTLSServer(prim)
	defer primSrv.Close()
	fb := &bodyRecorder{handler: ok200}
	fbSrv := httptest.NewTLSServer(fb)
	defer fbSrv.Close()
	yaml := strings.ReplaceAll(strings.ReplaceAll(fallbackConfig, "%PRIMARY%", primSrv.URL), "%FALLBACK%", fbSrv.URL)
	yaml = strings.Replace(yaml, "    model_map: {claude-opus-4-1: claude-sonnet-4-5}\n", "", 1)
	tp := startProxy(t, yaml, fbSrv, poolKeysOpt(nil, &mapKeys{m: map[string]string{"a": keyA, "f": keyF}}))
	big := clientBody + strings.Repeat(" ", 70000) // past any peek buffer
	resp, _ := post(t, tp, "/primary/v1/messages", big)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	pb, _ := prim.got()
	fbb, _ := fb.got()
	if len(pb) != 3 || len(fbb) != 1 {
		t.Fatalf("primary got %d attempts, fallback %d; want 3 and 1", len(pb), len(fbb))
	}
	for i, b := range append(pb, fbb...) {
		if !bytes.Equal(b, []byte(big)) {
			t.Fatalf("body %d differs from what the client sent", i)
		}
	}
}

// TestAStartedStreamIsNeverSwitched: a primary that starts a 200 stream
// and dies in the middle keeps the client's answer; the fallback never
// gets the request.
func TestAStartedStreamIsNeverSwitched(t *testing.T) {
	primary := tlsUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "event: message_start\ndata: {}\n\n")
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the upstream dies mid-stream
	})
	fb := &bodyRecorder{handler: ok200}
	fbSrv := httptest.NewTLSServer(fb)
	defer fbSrv.Close()
	tp := startFallbackProxy(t, primary, fbSrv, "")
	resp := tp.do(t, "POST", "/primary/v1/messages", strings.NewReader(clientBody), nil)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "primary" || !strings.Contains(string(got), "message_start") {
		t.Fatalf("got %d from %q: %q", resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"), got)
	}
	if b, _ := fb.got(); len(b) != 0 {
		t.Fatalf("the fallback got %d requests after the stream started", len(b))
	}
}

// TestBreakerOpensSkipsThePrimaryAndOneProbeClosesIt.
func TestBreakerOpensSkipsThePrimaryAndOneProbeClosesIt(t *testing.T) {
	var healthy atomic.Bool
	var primaryHits atomic.Int64
	primary := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		primaryHits.Add(1)
		if healthy.Load() {
			ok200(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	fb := &bodyRecorder{handler: ok200}
	fbSrv := httptest.NewTLSServer(fb)
	defer fbSrv.Close()
	yaml := strings.Replace(fallbackConfig, "    fallbacks: [direct]\n", "    fallbacks: [direct]\n    breaker: {failures: 2, cooldown: 3s}\n    retry: {max_retries: 0}\n", 1)
	yaml = strings.ReplaceAll(strings.ReplaceAll(yaml, "%PRIMARY%", primary), "%FALLBACK%", fbSrv.URL)
	tp := startProxy(t, yaml, fbSrv, poolKeysOpt(nil, &mapKeys{m: map[string]string{"a": keyA, "f": keyF}}))
	evs, cancel := tp.bus.Subscribe(256)
	defer cancel()
	sess := tp.srv.sessions["primary"]
	// gobreaker reads the wall clock, so the cooldown is real: a request
	// counts as "sent while open" only when the breaker was open before and
	// after it (on a loaded machine the cooldown may end mid-loop; those
	// requests prove nothing either way and are not counted).
	whileOpen := 0
	for i := range 6 {
		openBefore := sess.breaker.State() == breaker.Open
		hitsBefore := primaryHits.Load()
		resp, _ := post(t, tp, "/primary/v1/messages", `{}`)
		if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "direct" {
			t.Fatalf("request %d: %d from %q", i+1, resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"))
		}
		if i == 1 {
			if st := tp.srv.Status().Upstreams; upstreamBreaker(st, "primary") != breaker.Open {
				t.Fatalf("status breaker %q after 2 failures, want open", upstreamBreaker(st, "primary"))
			}
		}
		if openBefore && sess.breaker.State() == breaker.Open {
			whileOpen++
			if n := primaryHits.Load(); n != hitsBefore {
				t.Fatalf("request %d reached the primary while its breaker was open (%d → %d hits)", i+1, hitsBefore, n)
			}
		}
	}
	if n := primaryHits.Load(); n < 2 || whileOpen == 0 {
		t.Fatalf("primary got %d requests, %d sent while open: want the 2 that opened it and at least one skipped", n, whileOpen)
	}
	healthy.Store(true)
	waitFor(t, "the breaker to let a probe through", 10*time.Second, func() bool { return sess.breaker.State() == breaker.HalfOpen })
	hitsBefore := primaryHits.Load()
	resp, _ := post(t, tp, "/primary/v1/messages", `{}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "primary" || primaryHits.Load() != hitsBefore+1 {
		t.Fatalf("probe: %d from %q, primary hits %d", resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"), primaryHits.Load())
	}
	if sess.breaker.State() != breaker.Closed {
		t.Fatalf("after a good probe: %s", sess.breaker.State())
	}
	var kinds []string
	for len(evs) > 0 {
		if e := <-evs; e.Kind == events.BreakerOpened || e.Kind == events.BreakerClosed {
			kinds = append(kinds, e.Kind.String())
		}
	}
	// Opened once (again after a probe that failed, when the cooldown ended
	// during the loop above), closed once, at the end.
	if k := strings.Join(kinds, ","); !strings.HasPrefix(k, "breaker_opened,") || !strings.HasSuffix(k, ",breaker_closed") || strings.Count(k, "breaker_closed") != 1 {
		t.Fatalf("breaker events %v", kinds)
	}
}

func upstreamBreaker(st []UpstreamStatus, name string) string {
	for _, u := range st {
		if u.Name == name {
			return u.Breaker
		}
	}
	return ""
}

// TestOpenBreakerWithoutFallbackAnswers503AtOnce.
func TestOpenBreakerWithoutFallbackAnswers503AtOnce(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer up.Close()
	tp := startProxy(t, `
listen: 127.0.0.1:0
client_token: false
upstreams:
  api:
    url: %UPSTREAM%
    retry: {max_retries: 0}
    breaker: {failures: 1, cooldown: 1m}
`, up)
	if resp, _ := post(t, tp, "/api/v1/x", `{}`); resp.StatusCode != 502 {
		t.Fatalf("first: %d, want the upstream's 502", resp.StatusCode)
	}
	resp, body := post(t, tp, "/api/v1/x", `{}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || hits.Load() != 1 {
		t.Fatalf("open breaker: %d Retry-After %q hits %d (%s)", resp.StatusCode, resp.Header.Get("Retry-After"), hits.Load(), body)
	}
	if e := proxyError(t, body); !strings.Contains(e.Error.Message, "circuit breaker is open") {
		t.Fatalf("message %q", e.Error.Message)
	}
}

// TestRateLimitStormOnOneKey measures the figure: concurrent
// clients while key A answers every request with 429 (retry-after 30s) and
// key B is ready. With key A alone every request fails after its retries;
// with the pool [a, b] none does.
func TestRateLimitStormOnOneKey(t *testing.T) {
	const clients = 100
	for _, tc := range []struct {
		name    string
		keys    string
		wantBad int
	}{
		{"key A alone (before)", "key: a", clients},
		{"pool [a, b] (after)", "keys: [a, b]", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := &keyedUpstream{handlers: map[string]http.HandlerFunc{keyA: rateLimited("30"), keyB: ok200}}
			up := httptest.NewTLSServer(u)
			defer up.Close()
			tp := startProxy(t, `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3}
upstreams:
  api:
    url: %UPSTREAM%
    `+tc.keys+`
`, up, poolKeysOpt(nil, &mapKeys{m: map[string]string{"a": keyA, "b": keyB}}))
			var bad atomic.Int64
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest("POST", tp.base+"/api/v1/messages", strings.NewReader(`{}`))
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						bad.Add(1)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						bad.Add(1)
					}
				}()
			}
			wg.Wait()
			seen := u.keys()
			toA := 0
			for _, k := range seen {
				if k == keyA {
					toA++
				}
			}
			t.Logf("%s: %d of %d concurrent client requests failed; upstream got %d requests, %d with key A", tc.name, bad.Load(), clients, len(seen), toA)
			if int(bad.Load()) != tc.wantBad {
				t.Fatalf("%d failed, want %d", bad.Load(), tc.wantBad)
			}
			if tc.wantBad > 0 {
				return
			}
			// Once A has answered 429, the next requests go to B alone.
			for i := range 20 {
				resp, _ := post(t, tp, "/api/v1/messages", `{}`)
				if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "1" {
					t.Fatalf("sequential request %d: %d after %s attempts", i+1, resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
				}
			}
			after := 0
			for _, k := range u.keys() {
				if k == keyA {
					after++
				}
			}
			if after != toA {
				t.Fatalf("key A got %d more requests while cooling", after-toA)
			}
		})
	}
}

// TestExhaustedPrimaryGoesToTheFallbackWithoutWaiting: once the primary's
// only key says it has 0 requests left until a reset, the next request goes
// to the fallback at once; the primary gets nothing before the reset.
func TestExhaustedPrimaryGoesToTheFallbackWithoutWaiting(t *testing.T) {
	clock := newStepClock()
	var primaryHits atomic.Int64
	primary := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		primaryHits.Add(1)
		w.Header().Set("anthropic-ratelimit-tokens-remaining", "0")
		w.Header().Set("anthropic-ratelimit-tokens-reset", clock.Now().Add(20*time.Second).UTC().Format(time.RFC3339))
		ok200(w, r)
	})
	fb := &bodyRecorder{handler: ok200}
	fbSrv := httptest.NewTLSServer(fb)
	defer fbSrv.Close()
	yaml := strings.ReplaceAll(strings.ReplaceAll(fallbackConfig, "%PRIMARY%", primary), "%FALLBACK%", fbSrv.URL)
	tp := startProxy(t, yaml, fbSrv, poolKeysOpt(clock, &mapKeys{m: map[string]string{"a": keyA, "f": keyF}}))
	if resp, _ := post(t, tp, "/primary/v1/messages", clientBody); resp.Header.Get("X-Clearway-Upstream") != "primary" {
		t.Fatalf("first request answered by %q", resp.Header.Get("X-Clearway-Upstream"))
	}
	for i := range 3 {
		resp, _ := post(t, tp, "/primary/v1/messages", clientBody)
		if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "direct" {
			t.Fatalf("request %d: %d from %q, want 200 from direct", i+2, resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"))
		}
	}
	if primaryHits.Load() != 1 || len(clock.slept()) != 0 {
		t.Fatalf("primary hits %d, waits %v: want 1 and none", primaryHits.Load(), clock.slept())
	}
	clock.advance(21 * time.Second)
	if resp, _ := post(t, tp, "/primary/v1/messages", clientBody); resp.Header.Get("X-Clearway-Upstream") != "primary" {
		t.Fatalf("after the reset: answered by %q", resp.Header.Get("X-Clearway-Upstream"))
	}
}

// TestPoolWaitsForTheSoonestKeyNotTheRateLimitedOne: key A is rate limited
// for 30 s, key B cools for 5 s: the retry waits 5 s for B, not 30 s for A.
func TestPoolWaitsForTheSoonestKeyNotTheRateLimitedOne(t *testing.T) {
	clock := newStepClock()
	var bArrival time.Time
	var mu sync.Mutex
	u := &keyedUpstream{handlers: map[string]http.HandlerFunc{
		keyA: rateLimited("30"),
		keyB: func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			bArrival = clock.Now()
			mu.Unlock()
			ok200(w, r)
		},
	}}
	up := httptest.NewTLSServer(u)
	defer up.Close()
	tp := startProxy(t, poolConfig, up, poolKeysOpt(clock, &mapKeys{m: map[string]string{"a": keyA, "b": keyB}}))
	start := clock.Now()
	tp.srv.pools.pools["api"].Cool("b", start.Add(5*time.Second), "test")
	resp, body := post(t, tp, "/api/v1/messages", `{}`)
	if resp.StatusCode != 200 {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	mu.Lock()
	waited := bArrival.Sub(start)
	mu.Unlock()
	if waited < 5*time.Second || waited >= 30*time.Second {
		t.Fatalf("key B was used %v after the start; want 5s (its cooldown), not A's 30s", waited)
	}
}

// TestMissingPrimaryKeyStillNotifiesWhileTheFallbackAnswers.
func TestMissingPrimaryKeyStillNotifiesWhileTheFallbackAnswers(t *testing.T) {
	var primaryHits atomic.Int64
	primary := tlsUpstream(t, func(w http.ResponseWriter, r *http.Request) { primaryHits.Add(1); ok200(w, r) })
	fb := &bodyRecorder{handler: ok200}
	fbSrv := httptest.NewTLSServer(fb)
	defer fbSrv.Close()
	yaml := strings.ReplaceAll(strings.ReplaceAll(fallbackConfig, "%PRIMARY%", primary), "%FALLBACK%", fbSrv.URL)
	tp := startProxy(t, yaml, fbSrv, poolKeysOpt(nil, &mapKeys{m: map[string]string{"f": keyF}}))
	evs, cancel := tp.bus.Subscribe(64)
	defer cancel()
	resp, _ := post(t, tp, "/primary/v1/messages", clientBody)
	if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "direct" || primaryHits.Load() != 0 {
		t.Fatalf("got %d from %q, primary hits %d", resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"), primaryHits.Load())
	}
	missing := false
	for len(evs) > 0 {
		if e := <-evs; e.Kind == events.KeyMissing && e.Key == "a" && e.Upstream == "primary" {
			missing = true
		}
	}
	if !missing {
		t.Fatal("no key_missing event for the primary's key")
	}
}

// TestLedgerRecordsWhoAnsweredAndWhoWasAsked.
func TestLedgerRecordsWhoAnsweredAndWhoWasAsked(t *testing.T) {
	primary := tlsUpstream(t, rateLimited("1"))
	fb := &bodyRecorder{handler: ok200}
	fbSrv := httptest.NewTLSServer(fb)
	defer fbSrv.Close()
	l := openLedger(t)
	yaml := strings.ReplaceAll(strings.ReplaceAll(fallbackConfig, "%PRIMARY%", primary), "%FALLBACK%", fbSrv.URL)
	tp := startProxy(t, yaml, fbSrv, poolKeysOpt(nil, &mapKeys{m: map[string]string{"a": keyA, "f": keyF}}), withLedger(l))
	if resp, _ := post(t, tp, "/primary/v1/messages", clientBody); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var got []usage.Entry
	waitFor(t, "the ledger row", 5*time.Second, func() bool {
		l.Flush()
		got, _ = l.Recent(context.Background(), 5)
		return len(got) == 1
	})
	if got[0].Upstream != "direct" || got[0].Requested != "primary" || got[0].Attempts != 4 {
		t.Fatalf("ledger row: upstream %q requested %q attempts %d; want direct, primary, 4 (3 to the primary, 1 to the fallback)", got[0].Upstream, got[0].Requested, got[0].Attempts)
	}
}
