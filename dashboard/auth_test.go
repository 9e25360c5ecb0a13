package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestCodeWorksOnceAndExpires(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	a := NewAuth(clk.now)
	code := a.MintCode()
	if len(code) < 43 {
		t.Fatalf("code %q is shorter than 256 bits in base64", code)
	}
	s, ok := a.Redeem(code)
	if !ok || s.ID == "" || s.CSRF == "" || s.ID == s.CSRF {
		t.Fatalf("first redeem: ok=%v session=%+v", ok, s)
	}
	if _, ok := a.Redeem(code); ok {
		t.Fatal("a code worked twice")
	}
	late := a.MintCode()
	clk.add(CodeTTL)
	if _, ok := a.Redeem(late); ok {
		t.Fatal("an expired code worked")
	}
	if _, ok := a.Redeem(""); ok {
		t.Fatal("the empty code worked")
	}
	if got, ok := a.Lookup(s.ID); !ok || got.CSRF != s.CSRF {
		t.Fatal("session lost before its end")
	}
	clk.add(SessionTTL)
	if _, ok := a.Lookup(s.ID); ok {
		t.Fatal("session outlived SessionTTL")
	}
}

func TestAuthorize(t *testing.T) {
	a := NewAuth(nil)
	h, err := New(Options{Auth: a, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := a.Redeem(a.MintCode())
	req := func(method, csrf, origin string, withCookie bool) *http.Request {
		r := httptest.NewRequest(method, "http://127.0.0.1:8764/_clearway/status", nil)
		if withCookie {
			r.AddCookie(&http.Cookie{Name: CookieName, Value: s.ID})
		}
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	own := "http://127.0.0.1:8764"
	for _, tc := range []struct {
		name string
		r    *http.Request
		want Verdict
	}{
		{"read without session", req("GET", "", "", false), NoSession},
		{"read with session", req("GET", "", "", true), Allowed},
		{"change with csrf and origin", req("POST", s.CSRF, own, true), Allowed},
		{"change without csrf", req("POST", "", own, true), BadCSRF},
		{"change with wrong csrf", req("DELETE", s.CSRF+"x", own, true), BadCSRF},
		{"change without origin", req("POST", s.CSRF, "", true), BadOrigin},
		{"change from another port", req("POST", s.CSRF, "http://127.0.0.1:9999", true), BadOrigin},
		{"change from localhost name", req("PUT", s.CSRF, "http://localhost:8764", true), BadOrigin},
	} {
		if got := h.Authorize(tc.r); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLoginSetsStrictCookieAndPageNeedsIt(t *testing.T) {
	a := NewAuth(nil)
	h, err := New(Options{Auth: a, Version: "v-test"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8764/_clearway/ui/", nil))
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "clearway dashboard") {
		t.Fatalf("page without session: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8764/_clearway/ui/login?code="+a.MintCode(), nil))
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", rec.Code)
	}
	set := rec.Result().Cookies()
	if len(set) != 1 || !set[0].HttpOnly || set[0].SameSite != http.SameSiteStrictMode || set[0].Path != "/_clearway/" || len(set[0].Value) < 43 {
		t.Fatalf("session cookie: %+v", set)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
	r := httptest.NewRequest("GET", "http://127.0.0.1:8764/_clearway/ui/", nil)
	r.AddCookie(set[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	s, _ := a.Lookup(set[0].Value)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `content="`+s.CSRF+`"`) {
		t.Fatalf("page with session: %d, CSRF token not in the page", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "<script>") {
		t.Fatal("the page has an inline script")
	}
}
