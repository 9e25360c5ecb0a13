package cfgate

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
)

func TestGateLetsOnlyAKeptCookieThrough(t *testing.T) {
	g := &Gate{}
	srv := httptest.NewTLSServer(g)
	defer srv.Close()
	post := func(c *http.Client, ua string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/messages", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		if got := post(srv.Client(), "a"); got != 429 { // a new client each time: no jar
			t.Fatalf("jar-less client: %d, want 429", got)
		}
	}
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	if a, b := post(c, "a"), post(c, "a"); a != 429 || b != 200 {
		t.Fatalf("with a jar: %d then %d, want 429 then 200", a, b)
	}
	if got := post(c, "other-agent"); got != 429 {
		t.Fatalf("clearance from another User-Agent: %d, want 429", got)
	}
	if g.Passed.Load() != 1 || g.Attempts.Load() != 6 {
		t.Fatalf("passed %d attempts %d", g.Passed.Load(), g.Attempts.Load())
	}
}

func TestBotGateRefusesABotCookieFromAnEarlierLifetime(t *testing.T) {
	g := &BotGate{}
	srv := httptest.NewTLSServer(g)
	defer srv.Close()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	get := func() int {
		resp, err := c.Get(srv.URL + "/v1/messages")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := get(), get(); a != 200 || b != 200 {
		t.Fatalf("same lifetime: %d %d", a, b)
	}
	g.Forget()
	if got := get(); got != 403 {
		t.Fatalf("stale __cf_bm after Forget: %d, want 403", got)
	}
	if g.WithClearance.Load() != 1 || g.Denied.Load() != 1 {
		t.Fatalf("with clearance %d denied %d", g.WithClearance.Load(), g.Denied.Load())
	}
}
