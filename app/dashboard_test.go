package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/breaker"
)

// stubDashboard is a Dashboard with no pages and no sessions.
type stubDashboard struct{}

func (stubDashboard) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNotFound)
}
func (stubDashboard) Allow(*http.Request) (present, allowed bool) { return false, false }
func (stubDashboard) LoginLink(base string) (string, time.Time)   { return base + "/login", time.Time{} }

// route finds the app's handler for method and path in opts.
func route(t *testing.T, opts proxy.Options, method, path string) http.HandlerFunc {
	t.Helper()
	for _, r := range opts.Routes {
		if r.Method == method && r.Path == path {
			return r.Handler
		}
	}
	t.Fatalf("no route %s %s", method, path)
	return nil
}

// TestDashboardRoutesAnswerInTheAdminShape checks that the app's own admin
// routes refuse bad input with the admin API's error JSON and headers (the
// same as the proxy's routes), and that a good key reaches the key store.
func TestDashboardRoutesAnswerInTheAdminShape(t *testing.T) {
	ta := openTestApp(t)
	ta.dash = stubDashboard{}
	var opts proxy.Options
	var srv *proxy.Server
	ta.dashboardOptions(&opts, &srv)

	call := func(h http.HandlerFunc, method, name, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/_clearway/key/x", strings.NewReader(body))
		req.SetPathValue("name", name)
		rec := httptest.NewRecorder()
		h(rec, req)
		return rec
	}
	put := route(t, opts, "PUT", api.PathKey)

	for _, tc := range []struct {
		name, body, typ string
		status          int
	}{
		{"alpha", "   ", "invalid_request_error", http.StatusBadRequest},
		{"bad name!", "sk-x", "invalid_request_error", http.StatusBadRequest},
		{"alpha", strings.Repeat("k", maxSecretBytes+1), "request_too_large", http.StatusRequestEntityTooLarge},
	} {
		rec := call(put, "PUT", tc.name, tc.body)
		var e struct {
			Type  string `json:"type"`
			Error struct {
				Type, Message string
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("PUT %q: body %q is not JSON: %v", tc.name, rec.Body, err)
		}
		if rec.Code != tc.status || e.Type != "error" || e.Error.Type != tc.typ || e.Error.Message == "" ||
			rec.Header().Get("X-Clearway-Error") != tc.typ {
			t.Errorf("PUT %q: %d %+v (X-Clearway-Error %q), want %d %s", tc.name, rec.Code, e, rec.Header().Get("X-Clearway-Error"), tc.status, tc.typ)
		}
	}
	if got, _ := ta.keys.Get("alpha"); got != "sk-alpha-SECRET" {
		t.Fatalf("a refused PUT changed the key to %q", got)
	}

	rec := call(put, "PUT", "alpha", "sk-alpha-NEW\n")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("PUT alpha: %d %s", rec.Code, rec.Body)
	}
	if got, _ := ta.keys.Get("alpha"); got != "sk-alpha-NEW" {
		t.Fatalf("key store has %q after PUT, want the trimmed new key", got)
	}

	post := route(t, opts, "POST", api.PathSettings)
	rec = httptest.NewRecorder()
	post(rec, httptest.NewRequest("POST", api.PathSettings, strings.NewReader("{not json")))
	if rec.Code != http.StatusBadRequest || rec.Header().Get("X-Clearway-Error") != "invalid_request_error" {
		t.Fatalf("POST settings with bad JSON: %d %s", rec.Code, rec.Body)
	}
}

// TestCircuitStatesRoundTrip pins the snapshot's typed circuit state to the
// breaker's names as status reports them.
func TestCircuitStatesRoundTrip(t *testing.T) {
	for _, s := range []string{breaker.Closed, breaker.Open, breaker.HalfOpen} {
		if got := view.CircuitOf(s).String(); got != s {
			t.Errorf("breaker state %q reads back as %q", s, got)
		}
	}
	if view.CircuitOf("") != view.CircuitClosed {
		t.Error("no breaker is not closed")
	}
}
