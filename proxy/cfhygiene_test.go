package proxy

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/cfgate"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/events"
)

// TestStealthDenyDropsTheBotCookieAndRetriesOnce: after the network changed,
// Cloudflare answers the session's old __cf_bm with an empty 403. The proxy
// drops the short-lived Cloudflare cookies, keeps cf_clearance, and the same
// client request succeeds on one extra attempt.
func TestStealthDenyDropsTheBotCookieAndRetriesOnce(t *testing.T) {
	gate := &cfgate.BotGate{}
	up := httptest.NewTLSServer(gate)
	defer up.Close()
	tp := startProxy(t, gateConfig, up)
	evs, cancel := tp.bus.Subscribe(64)
	defer cancel()
	t.Cleanup(func() {
		for _, v := range gate.SeenBotCookies() {
			testOutput.secret(v)
		}
	})

	post := func() *http.Response {
		resp := tp.do(t, "POST", "/cf/v1/messages", strings.NewReader(`{}`), http.Header{"User-Agent": {"agent/1"}})
		readAll(t, resp)
		return resp
	}
	if resp := post(); resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	gate.Forget() // the client moved to another network
	resp := post()
	if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "2" {
		t.Fatalf("after the network change: status %d attempts %s, want 200 after 2", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
	}
	if d, w := gate.Denied.Load(), gate.WithClearance.Load(); d != 1 || w != 1 {
		t.Fatalf("upstream denied %d, passed %d with the old cf_clearance; want 1 and 1", d, w)
	}
	if waits := tp.clock.waits(); len(waits) != 0 {
		t.Errorf("the stealth-deny retry waited %v; it should go at once", waits)
	}
	// The next request goes through at once with the fresh __cf_bm.
	if resp := post(); resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "1" {
		t.Fatalf("third request: %d after %s attempts", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
	}
	dropped := false
	for len(evs) > 0 {
		if e := <-evs; e.Kind == events.CookiesDropped && e.Upstream == "cf" && strings.Contains(e.Reason, "__cf_bm") {
			dropped = true
		}
	}
	if !dropped {
		t.Error("no cookies_dropped event naming __cf_bm")
	}
}

// TestStealthDenyRetriesOnlyOnce: an upstream that refuses every request
// that way gets one extra attempt, not a loop.
func TestStealthDenyRetriesOnlyOnce(t *testing.T) {
	var n int
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		http.SetCookie(w, &http.Cookie{Name: "__cf_bm", Value: "bm-" + secretMarker, Path: "/", Secure: true})
		w.Header().Set("Server", "cloudflare")
		w.WriteHeader(http.StatusForbidden)
	}))
	defer up.Close()
	tp := startProxy(t, gateConfig, up)
	for i := range 3 {
		resp := tp.do(t, "POST", "/cf/v1/messages", nil, nil)
		readAll(t, resp)
		if resp.StatusCode != 403 {
			t.Fatalf("request %d: %d, want the upstream's 403", i, resp.StatusCode)
		}
	}
	// 1 (no cookie yet) + 2 + 2: every request after the first sent a
	// __cf_bm, was refused, and was retried once without it.
	if n != 5 {
		t.Fatalf("upstream saw %d requests, want 5", n)
	}
}

// TestStartDropsStaleShortLivedCloudflareCookies: a jar saved by an earlier
// process more than 30 minutes ago loses __cf_bm, _cfuvid and __cflb at
// start; cf_clearance and the API's own cookies stay.
func TestStartDropsStaleShortLivedCloudflareCookies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.json")
	old := time.Now().Add(-45 * time.Minute).UTC().Format(time.RFC3339Nano)
	fresh := time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339Nano)
	exp := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339Nano)
	cookie := func(name, created string) string {
		return `{"name":"` + name + `","value":"v-` + secretMarker + `","domain":"127.0.0.1","host_only":true,"path":"/","secure":true,"http_only":true,"expires":"` + exp + `","created":"` + created + `"}`
	}
	file := `{"version":1,"upstreams":{"cf":{"cookies":[` + strings.Join([]string{
		cookie("__cf_bm", old), cookie("_cfuvid", old), cookie("cf_clearance", old), cookie("session", old), cookie("__cflb", fresh),
	}, ",") + `]}}}`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := cookiejar.Open(cookiejar.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.Cookies() {
			sent = append(sent, c.Name)
		}
	}))
	defer up.Close()
	tp := startProxy(t, gateConfig, up, func(o *Options) { o.Cookies = store })
	resp := tp.do(t, "GET", "/cf/v1/models", nil, nil)
	readAll(t, resp)
	if got := strings.Join(sent, ","); got != "cf_clearance,session,__cflb" {
		t.Fatalf("cookies sent after start: %q, want cf_clearance,session,__cflb (the fresh __cflb kept)", got)
	}
}
