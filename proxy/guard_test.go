package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForeignHostsAndOriginsNeverReachUpstream(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	port := tp.base[strings.LastIndex(tp.base, ":")+1:]
	cases := []struct {
		name   string
		host   string
		header map[string]string
		want   int
	}{
		{"attacker name", "evil.example", nil, 403},
		{"localhost suffix", "localhost.evil.test:" + port, nil, 403},
		{"decimal ip", "2130706433:" + port, nil, 403},
		{"hex ip", "0x7f.1:" + port, nil, 403},
		{"other port", "127.0.0.1:1", nil, 403},
		{"cross-site origin", "127.0.0.1:" + port, map[string]string{"Origin": "https://evil.example"}, 403},
		{"null origin", "127.0.0.1:" + port, map[string]string{"Origin": "null"}, 403},
		{"sec-fetch-site", "127.0.0.1:" + port, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign referer", "127.0.0.1:" + port, map[string]string{"Referer": "https://evil.example/page"}, 403},
		{"loopback", "127.0.0.1:" + port, nil, 200},
		{"localhost", "localhost:" + port, nil, 200},
		{"ipv6 loopback", "[::1]:" + port, nil, 200},
		{"local origin", "localhost:" + port, map[string]string{"Origin": "http://localhost:" + port}, 200},
		{"local referer", "localhost:" + port, map[string]string{"Referer": "http://127.0.0.1:" + port + "/_clearway/ui/"}, 200},
		// Issue 12: an Origin or Referer must match scheme, host AND port.
		{"origin without port (a page on http://localhost)", "127.0.0.1:" + port, map[string]string{"Origin": "http://localhost", "Content-Type": "text/plain"}, 403},
		{"origin on another local port", "127.0.0.1:" + port, map[string]string{"Origin": "http://127.0.0.1:3000"}, 403},
		{"origin with https", "127.0.0.1:" + port, map[string]string{"Origin": "https://localhost:" + port}, 403},
		{"origin with a path", "127.0.0.1:" + port, map[string]string{"Origin": "http://localhost:" + port + "/x"}, 403},
		{"referer without port", "127.0.0.1:" + port, map[string]string{"Referer": "http://localhost/page"}, 403},
		{"referer on another local port", "127.0.0.1:" + port, map[string]string{"Referer": "http://[::1]:8080/"}, 403},
		{"same-site origin without port", "127.0.0.1:" + port, map[string]string{"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-site"}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			req, _ := http.NewRequest("POST", tp.base+"/api/v1/messages", strings.NewReader("{}"))
			req.Host = tc.host
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, body)
			}
			reached := hits.Load() - before
			if tc.want == 403 {
				proxyError(t, body)
				if reached != 0 {
					t.Fatal("a refused request reached the upstream")
				}
			} else if reached != 1 {
				t.Fatalf("upstream hits %d, want 1", reached)
			}
		})
	}
}

func TestPathTricksAreRefused(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	for _, p := range []string{"/api/../_clearway/status", "/api/%2e%2e/x", "/api/a/%2E%2E%2Fb", "/api/.%2e/x", "/api/a\\..\\b"} {
		req, _ := http.NewRequest("GET", tp.base+"/", nil)
		req.URL.Opaque = p // send the path exactly as written
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", p, resp.StatusCode)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d trick paths reached the upstream", hits.Load())
	}
}

func TestBodyOverMaxIs413(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	tp := startProxy(t, strings.Replace(retryConfig, "client_token: false", "client_token: false\nmax_body: 1KiB", 1), up)
	resp := tp.do(t, "POST", "/api/x", bytes.NewReader(make([]byte, 2048)), nil)
	e := proxyError(t, readAll(t, resp))
	if resp.StatusCode != 413 || e.Error.Type != errTooLarge {
		t.Fatalf("known length: %d %+v", resp.StatusCode, e)
	}
	// Chunked (unknown length) over the limit too.
	req, _ := http.NewRequest("POST", tp.base+"/api/x", io.MultiReader(bytes.NewReader(make([]byte, 2048))))
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != 413 || hits.Load() != 0 {
		t.Fatalf("chunked: %d, upstream hits %d", resp.StatusCode, hits.Load())
	}
}

func TestTokenCheckedStrippedAndKeyInjected(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
	}))
	defer up.Close()
	const cfg = `
listen: 127.0.0.1:0
upstreams:
  anthropic:
    url: %UPSTREAM%
    key: anthropic
    headers: {x-supermemory-api-key: "${key:supermemory}", x-user: "u-${env:CLEARWAY_TEST_USER}"}
  openai:
    url: %UPSTREAM%
    key: openai
    auth_header: authorization
`
	t.Setenv("CLEARWAY_TEST_USER", "ada")
	keys := &mapKeys{m: map[string]string{"anthropic": "sk-ant-REAL", "supermemory": "sm-REAL"}}
	tp := startProxy(t, cfg, up, func(o *Options) { o.Keys = keys; o.Token = "local-token-123" })

	for _, h := range []http.Header{nil, {"X-Api-Key": {"wrong"}}, {"Authorization": {"Bearer wrong"}}} {
		resp := tp.do(t, "POST", "/anthropic/v1/messages", nil, h)
		if e := proxyError(t, readAll(t, resp)); resp.StatusCode != 401 || !strings.Contains(e.Error.Message, "clearway token") {
			t.Errorf("token %v: %d %q", h, resp.StatusCode, e.Error.Message)
		}
	}
	for _, h := range []http.Header{{"X-Api-Key": {"local-token-123"}}, {"Authorization": {"Bearer local-token-123"}}} {
		resp := tp.do(t, "POST", "/anthropic/v1/messages", nil, h)
		readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("token in %v: status %d", h, resp.StatusCode)
		}
	}
	resp := tp.do(t, "POST", "/openai/v1/chat/completions", nil, http.Header{"Authorization": {"Bearer local-token-123"}})
	e := openAIProxyError(t, readAll(t, resp))
	if resp.StatusCode != 401 || !strings.Contains(e.Message, "clearway keys set openai") || e.Code != "invalid_api_key" {
		t.Fatalf("missing key: %d %+v", resp.StatusCode, e)
	}
	mu.Lock()
	got := append([]http.Header(nil), seen...)
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("upstream saw %d requests, want 2", len(got))
	}
	for _, h := range got {
		if h.Get("X-Api-Key") != "sk-ant-REAL" || h.Get("Authorization") != "" || h.Get("X-Supermemory-Api-Key") != "sm-REAL" || h.Get("X-User") != "u-ada" {
			t.Errorf("upstream headers: %v", h)
		}
		for k, vv := range h {
			for _, v := range vv {
				if strings.Contains(v, "local-token-123") {
					t.Errorf("the client token was forwarded in %s", k)
				}
			}
		}
	}
	// A key set later takes effect after a reload, with no restart.
	keys.mu.Lock()
	keys.m["openai"] = "sk-oa-REAL"
	keys.mu.Unlock()
	if err := tp.srv.ReloadKeys(); err != nil {
		t.Fatal(err)
	}
	resp = tp.do(t, "POST", "/openai/v1/chat/completions", nil, http.Header{"Authorization": {"Bearer local-token-123"}})
	readAll(t, resp)
	mu.Lock()
	last := seen[len(seen)-1]
	mu.Unlock()
	if resp.StatusCode != 200 || last.Get("Authorization") != "Bearer sk-oa-REAL" {
		t.Fatalf("after reload: status %d, upstream Authorization %q", resp.StatusCode, last.Get("Authorization"))
	}
}

func TestAdminEndpointsNeedTheToken(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	tp := startProxy(t, "listen: 127.0.0.1:0\nupstreams: {api: {url: %UPSTREAM%}}\n", up, func(o *Options) { o.Token = "tok-abc" })
	for _, p := range []string{"/_clearway/status", "/_clearway/cookies", "/_clearway/cookies/export"} {
		resp := tp.do(t, "GET", p, nil, nil)
		readAll(t, resp)
		if resp.StatusCode != 401 {
			t.Errorf("%s without token: %d", p, resp.StatusCode)
		}
		resp = tp.do(t, "GET", p, nil, http.Header{"Authorization": {"Bearer tok-abc"}})
		body := readAll(t, resp)
		if resp.StatusCode != 200 || strings.Contains(body, "tok-abc") {
			t.Errorf("%s with token: %d %q", p, resp.StatusCode, body)
		}
	}
	resp := tp.do(t, "GET", "/_clearway/health", nil, nil)
	readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Errorf("health needs no token: %d", resp.StatusCode)
	}
}
