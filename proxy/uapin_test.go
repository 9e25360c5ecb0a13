package proxy

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestCookiesClearKeepsThePinnedUserAgent: clearing the cookies of a running
// instance keeps the pinned User-Agent (the next clearance is bound to it and
// saved with it); only unpin_ua=1 forgets it, and then the next client's is
// pinned.
func TestCookiesClearKeepsThePinnedUserAgent(t *testing.T) {
	var mu sync.Mutex
	var uas []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uas = append(uas, r.Header.Get("User-Agent"))
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "cf_clearance", Value: "v", MaxAge: 3600})
	}))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	send := func(ua string) string {
		t.Helper()
		resp := tp.do(t, "GET", "/api/v1/models", nil, http.Header{"User-Agent": {ua}})
		readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		mu.Lock()
		defer mu.Unlock()
		return uas[len(uas)-1]
	}
	admin := func(q string) {
		t.Helper()
		resp := tp.do(t, "POST", "/_clearway/cookies/clear"+q, nil, nil)
		readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("clear%s: %d", q, resp.StatusCode)
		}
	}
	if got := send("client-A/1"); got != "client-A/1" {
		t.Fatalf("first request sent %q", got)
	}
	admin("?upstream=api")
	if n := tp.srv.cookies.Jar("api").Len(); n != 0 {
		t.Fatalf("%d cookies left after clear", n)
	}
	if got := tp.srv.cookies.UserAgent("api"); got != "client-A/1" {
		t.Fatalf("pinned UA after clear %q, want client-A/1", got)
	}
	if got := send("client-B/2"); got != "client-A/1" {
		t.Fatalf("after clear the upstream saw %q, want the pinned client-A/1", got)
	}
	if n := tp.srv.cookies.Jar("api").Len(); n != 1 || tp.srv.cookies.UserAgent("api") != "client-A/1" {
		t.Fatalf("new clearance: %d cookies, pinned %q", n, tp.srv.cookies.UserAgent("api"))
	}
	if got := tp.srv.Status().Upstreams[0].UserAgent; got != "client-A/1" {
		t.Errorf("status shows UA %q", got)
	}
	admin("?upstream=api&unpin_ua=1")
	if got := send("client-B/2"); got != "client-B/2" {
		t.Fatalf("after unpin the upstream saw %q, want client-B/2", got)
	}
	if got := tp.srv.cookies.UserAgent("api"); got != "client-B/2" {
		t.Fatalf("pinned after unpin and a request: %q", got)
	}
}
