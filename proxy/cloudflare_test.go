package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// cloudflareGate behaves like Cloudflare in front of an API: a request without
// a valid clearance cookie gets 429 + an HTML "error code: 1015" page and a
// fresh cf_clearance (Secure, HttpOnly) bound to the User-Agent it was issued
// to; a request carrying that cookie with the same User-Agent gets through.
type cloudflareGate struct {
	mu         sync.Mutex
	issued     map[string]string // clearance value -> User-Agent
	attempts   atomic.Int64
	withCookie atomic.Int64
	passed     atomic.Int64
}

func newCloudflareGate() *cloudflareGate { return &cloudflareGate{issued: map[string]string{}} }

func (g *cloudflareGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.attempts.Add(1)
	if c, err := r.Cookie("cf_clearance"); err == nil {
		g.withCookie.Add(1)
		g.mu.Lock()
		ua, ok := g.issued[c.Value]
		g.mu.Unlock()
		if ok && ua == r.UserAgent() {
			g.passed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"type":"message","content":[{"type":"text","text":"hello"}]}`))
			return
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	val := hex.EncodeToString(b)
	g.mu.Lock()
	g.issued[val] = r.UserAgent()
	g.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "cf_clearance", Value: val, Path: "/", MaxAge: 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	w.Header().Set("Server", "cloudflare")
	w.Header().Set("Cf-Ray", "8f0000000000abcd-FRA")
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Retry-After", "0")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Access denied | api.example.com used Cloudflare to restrict access</title></head><body><h1>Error 1015</h1><p>You are being rate limited</p><p>error code: 1015</p></body></html>"))
}

const gateConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3, initial_delay: 1s, max_delay: 30s}
upstreams:
  cf:
    url: %UPSTREAM%
`

func TestCloudflareClearanceIsKeptAndSentAgain(t *testing.T) {
	gate := newCloudflareGate()
	up := httptest.NewTLSServer(gate)
	defer up.Close()
	tp := startProxy(t, gateConfig, up)

	hdr := http.Header{"User-Agent": {"claude-cli/1.0 (test)"}}
	resp := tp.do(t, "POST", "/cf/v1/messages", nil, hdr)
	body := readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("first request: status %d, body %q", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Clearway-Attempts"); got != "2" {
		t.Errorf("first request: X-Clearway-Attempts = %q, want 2", got)
	}
	if a, c := gate.attempts.Load(), gate.withCookie.Load(); a != 2 || c != 1 {
		t.Fatalf("first request: upstream saw %d attempts (%d with the cookie), want 2 (1)", a, c)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("the upstream's Set-Cookie reached the client; the session owns it")
	}
	// Cloudflare's Retry-After: 0 must not mean a busy loop: a minimum backoff is kept.
	if w := tp.clock.waits(); len(w) != 1 || w[0] <= 0 {
		t.Errorf("waits = %v, want one positive backoff", w)
	}
	// The next requests go through at the first attempt, even with another
	// client User-Agent: the session's pinned one is sent.
	for i, ua := range []string{"claude-cli/1.0 (test)", "other-agent/2.0", ""} {
		h := http.Header{}
		if ua != "" {
			h.Set("User-Agent", ua)
		}
		resp := tp.do(t, "POST", "/cf/v1/messages", nil, h)
		readAll(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "1" {
			t.Fatalf("request %d: status %d attempts %s, want 200 at attempt 1", i+2, resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
		}
	}
	if a := gate.attempts.Load(); a != 5 {
		t.Errorf("upstream saw %d attempts for 4 requests, want 5", a)
	}
	st := tp.srv.Status().Upstreams[0]
	if st.Requests != 4 || st.Retries != 1 || st.CookieCount != 1 || st.CookieNames[0] != "cf_clearance" || st.State != "ok" {
		t.Errorf("status = %+v", st)
	}
}

// TestWithoutAJarNeverGetsThrough shows the bug clearway exists for: a client
// that forgets cookies between attempts (a new HTTP client per request) is
// rate limited forever, however often it retries.
func TestWithoutAJarNeverGetsThrough(t *testing.T) {
	gate := newCloudflareGate()
	up := httptest.NewTLSServer(gate)
	defer up.Close()
	for range 10 {
		client := up.Client() // fresh client, no jar: the old bug
		resp, err := client.Post(up.URL+"/v1/messages", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("a jar-less client got %d", resp.StatusCode)
		}
	}
	if gate.passed.Load() != 0 {
		t.Fatal("a jar-less client got through")
	}
	// With a jar the same client gets through on its second attempt: the cookie is the cure.
	client := up.Client()
	client.Jar, _ = cookiejar.New(nil)
	var last int
	for range 2 {
		resp, err := client.Post(up.URL+"/v1/messages", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		last = resp.StatusCode
	}
	if last != 200 {
		t.Fatalf("with a jar: %d", last)
	}
}
