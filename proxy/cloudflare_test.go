package proxy

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"

	"github.com/clearway/clearway/internal/cfgate"
	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/retry"
)

const gateConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3, initial_delay: 1s, max_delay: 30s}
upstreams:
  cf:
    url: %UPSTREAM%
`

func TestCloudflareClearanceIsKeptAndSentAgain(t *testing.T) {
	gate := &cfgate.Gate{}
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
	if a, c := gate.Attempts.Load(), gate.WithCookie.Load(); a != 2 || c != 1 {
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
	if a := gate.Attempts.Load(); a != 5 {
		t.Errorf("upstream saw %d attempts for 4 requests, want 5", a)
	}
	st := tp.srv.Status().Upstreams[0]
	if st.Requests != 4 || st.Retries != 1 || st.CookieCount != 1 || st.CookieNames[0] != "cf_clearance" || st.State != health.OK {
		t.Errorf("status = %+v", st)
	}
}

// TestCompressedCloudflarePageIsRecognised: a 1015 page sent with status 403
// (which alone is not retried) and compressed as the client accepted
// (Claude Code asks for "gzip, deflate, br, zstd") is decoded, recognised as
// a rate limit and retried with the clearance; the client gets the upstream's
// bytes as they came.
func TestCompressedCloudflarePageIsRecognised(t *testing.T) {
	for _, enc := range []string{"zstd", "gzip"} {
		t.Run(enc, func(t *testing.T) {
			gate := &cfgate.Gate{Status: http.StatusForbidden, Encoding: enc}
			up := httptest.NewTLSServer(gate)
			defer up.Close()
			tp := startProxy(t, gateConfig, up)
			hdr := http.Header{"User-Agent": {"claude-cli/2.1 (test)"}, "Accept-Encoding": {"gzip, deflate, br, zstd"}}
			resp := tp.do(t, "POST", "/cf/v1/messages", nil, hdr)
			body := readAll(t, resp)
			if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "2" || gate.Attempts.Load() != 2 {
				t.Fatalf("status %d attempts %s (upstream saw %d), body %q; want 200 after 2", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), gate.Attempts.Load(), body)
			}
		})
	}
	// Without the clearance coming back (a fresh gate that accepts no
	// cookie), the final 403 page reaches the client byte for byte, still
	// compressed.
	gate := &cfgate.Gate{Status: http.StatusForbidden, Encoding: "zstd", Value: func(int64) string { return "v" }}
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Cookie")
		gate.ServeHTTP(w, r)
	}))
	defer up.Close()
	tp := startProxy(t, gateConfig, up)
	resp := tp.do(t, "POST", "/cf/v1/messages", nil, http.Header{"Accept-Encoding": {"zstd"}})
	body := readAll(t, resp)
	if resp.StatusCode != 403 || resp.Header.Get("Content-Encoding") != "zstd" || gate.Attempts.Load() != 4 {
		t.Fatalf("status %d encoding %q attempts %d", resp.StatusCode, resp.Header.Get("Content-Encoding"), gate.Attempts.Load())
	}
	if got := retry.DecodeBody("zstd", []byte(body)); string(got) != cfgate.Page1015 || body == cfgate.Page1015 {
		t.Fatalf("the client got %d bytes that are not the upstream's zstd page", len(body))
	}
}

// TestWithoutAJarNeverGetsThrough shows the bug clearway exists for: a client
// that forgets cookies between attempts (a new HTTP client per request) is
// rate limited forever, however often it retries.
func TestWithoutAJarNeverGetsThrough(t *testing.T) {
	gate := &cfgate.Gate{}
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
	if gate.Passed.Load() != 0 {
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
