package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clearway/clearway/proxy/api"
)

const adminConfig = `
listen: 127.0.0.1:0
client_token: true
upstreams:
  api:
    url: %UPSTREAM%/base
`

// TestAdminAPI drives every endpoint through api.Client, the client the CLI
// uses, against a real proxy that requires the client token.
func TestAdminAPI(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	tok := secretMarker + "-admin-token"
	tp := startProxy(t, adminConfig, up, func(o *Options) { o.Token = tok })
	ctx := context.Background()
	anon := &api.Client{Base: tp.base}
	c := &api.Client{Base: tp.base, Token: tok}

	if h, err := anon.Health(ctx); err != nil || h.Status != "ok" || h.Version != "" {
		t.Fatalf("health without a token: %+v %v", h, err)
	}
	if h, err := c.Health(ctx); err != nil || h.Version != "test" {
		t.Errorf("health with the token: %+v %v, want the version", h, err)
	}
	// Issue 12: health says "ok" and nothing else to a stranger; the 404 of
	// an unknown upstream names the upstreams only to a token holder.
	var raw map[string]any
	if err := json.Unmarshal([]byte(readAll(t, tp.do(t, "GET", "/_clearway/health", nil, nil))), &raw); err != nil || len(raw) != 1 || raw["status"] != "ok" {
		t.Errorf("health without a token: %v %v, want exactly {\"status\":\"ok\"}", raw, err)
	}
	if body := readAll(t, tp.do(t, "GET", "/nosuch/x", nil, nil)); strings.Contains(body, "api") {
		t.Errorf("404 without a token names the upstreams: %s", body)
	}
	if body := readAll(t, tp.do(t, "GET", "/nosuch/x", nil, http.Header{"X-Api-Key": {tok}})); !strings.Contains(body, "known upstreams: api") {
		t.Errorf("404 with the token does not name the upstreams: %s", body)
	}
	if _, err := anon.Status(ctx); err == nil || !strings.Contains(err.Error(), "client token") {
		t.Fatalf("status without a token: %v, want a refusal naming the client token", err)
	}
	st, err := c.Status(ctx)
	if err != nil || len(st.Upstreams) != 1 || st.Upstreams[0].Name != "api" || !st.ClientToken {
		t.Fatalf("status: %+v %v", st, err)
	}
	const txt = "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tcf_clearance\t" + secretMarker + "-cookie\n"
	imp, err := c.ImportCookies(ctx, strings.NewReader(txt))
	if err != nil || imp.Imported["api"] != 1 || imp.Unmatched != 0 {
		t.Fatalf("import: %+v %v", imp, err)
	}
	list, err := c.Cookies(ctx, "api", false)
	if err != nil || len(list) != 1 || list[0].Name != "cf_clearance" || list[0].Value != "" {
		t.Fatalf("list without values: %+v %v", list, err)
	}
	if list, err = c.Cookies(ctx, "api", true); err != nil || len(list) != 1 || list[0].Value != secretMarker+"-cookie" {
		t.Fatalf("list with values: %+v %v", list, err)
	}
	var exp bytes.Buffer
	if err := c.ExportCookies(ctx, &exp); err != nil || !strings.Contains(exp.String(), "\tcf_clearance\t") {
		t.Fatalf("export: %q %v", exp.String(), err)
	}
	if _, err := c.Cookies(ctx, "nope", false); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown upstream: %v", err)
	}
	clr, err := c.ClearCookies(ctx, "api", true)
	if err != nil || clr.Cleared != 1 || !clr.Unpinned {
		t.Fatalf("clear: %+v %v", clr, err)
	}
	if keys, err := c.ReloadKeys(ctx); err != nil || keys.Keys == nil {
		t.Fatalf("keys reload: %+v %v", keys, err)
	}

	// Another method on a known path: 405 with Allow, as JSON; an unknown
	// path: 404 as JSON.
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", api.PathStatus, 405, "GET"},
		{"GET", api.PathKeysReload, 405, "POST"},
		{"DELETE", api.PathHealth, 405, "GET"},
		{"GET", api.Prefix + "/nope", 404, ""},
		{"GET", api.PathCookies + "/", 404, ""},
	} {
		req, _ := http.NewRequest(tc.method, tp.base+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e api.ErrorBody
		if err := json.Unmarshal([]byte(readAll(t, resp)), &e); err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow || e.Error.Message == "" {
			t.Errorf("%s %s: %d Allow %q %+v, want %d Allow %q and a JSON error", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), e, tc.status, tc.allow)
		}
	}
}
