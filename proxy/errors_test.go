package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLocalAnswersSpeakTheClientsAPIAndAreFinal: every answer clearway makes
// itself that a retry cannot fix (no or wrong client token, a missing key, a
// foreign Host or Origin, an unknown upstream, a body over max_body, an
// upstream whose certificate is not trusted) is in the error format of the
// API the client speaks, says `x-should-retry: false`, and never holds the
// literal "x-api-key" (Claude Code would hide the message behind its own).
func TestLocalAnswersSpeakTheClientsAPIAndAreFinal(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer up.Close()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer untrusted.Close()
	cfg := `
listen: 127.0.0.1:0
max_body: 1KiB
upstreams:
  anthropic: {url: "%UPSTREAM%", key: anthropic}
  openai: {url: "%UPSTREAM%", key: openai, auth_header: authorization}
  nokey: {url: "%UPSTREAM%", key: nokey}
  nokeyoa: {url: "%UPSTREAM%", key: nokey, auth_header: authorization}
  badcert: {url: "` + untrusted.URL + `", key: anthropic}
  badcertoa: {url: "` + untrusted.URL + `", key: openai, auth_header: authorization}
`
	keys := &mapKeys{m: map[string]string{"anthropic": "sk-ant-REAL", "openai": "sk-oa-REAL"}}
	tp := startProxy(t, cfg, up, func(o *Options) { o.Keys = keys; o.Token = "tok-123" })

	anth := http.Header{"Anthropic-Version": {"2023-06-01"}, "X-Api-Key": {"tok-123"}}
	anthBearer := http.Header{"Anthropic-Version": {"2023-06-01"}, "Authorization": {"Bearer tok-123"}}
	oa := http.Header{"Authorization": {"Bearer tok-123"}}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	big := strings.Repeat("x", 2048)
	cases := []struct {
		name, path string
		header     http.Header
		body       string
		host       string
		status     int
		openai     bool
		typ        string // Anthropic type (OpenAI: mapped by openAIError)
		says       string
	}{
		{"no token (Anthropic)", "/anthropic/v1/messages", with(anth, "X-Api-Key", ""), "", "", 401, false, errAuthentication, "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to the output of `clearway token`"},
		{"wrong token (Anthropic)", "/anthropic/v1/messages", with(anth, "X-Api-Key", "nope"), "", "", 401, false, errAuthentication, "wrong client token"},
		{"wrong bearer token (Anthropic)", "/anthropic/v1/messages?beta=true", with(anthBearer, "Authorization", "Bearer nope"), "", "", 401, false, errAuthentication, "ANTHROPIC_AUTH_TOKEN"},
		{"wrong token (OpenAI)", "/openai/v1/chat/completions", with(oa, "Authorization", "Bearer nope"), "", "", 401, true, errAuthentication, "set OPENAI_API_KEY"},
		{"no token (OpenAI responses)", "/openai/v1/responses", nil, "", "", 401, true, errAuthentication, "no client token"},
		{"wrong token (OpenAI models)", "/openai/v1/models", with(oa, "Authorization", "Bearer nope"), "", "", 401, true, errAuthentication, "OPENAI_API_KEY"},
		{"no token, nothing tells the API (OpenAI upstream)", "/openai/v1/models", nil, "", "", 401, true, errAuthentication, "set OPENAI_API_KEY"},
		{"no token, nothing tells the API (Anthropic upstream)", "/anthropic/v1/models", nil, "", "", 401, false, errAuthentication, "set ANTHROPIC_API_KEY"},
		{"missing key (Anthropic)", "/nokey/v1/messages", anth, "", "", 401, false, errAuthentication, "clearway keys set nokey"},
		{"missing key (OpenAI)", "/nokeyoa/v1/chat/completions", oa, "", "", 401, true, errAuthentication, "clearway keys set nokey"},
		{"foreign Host (Anthropic)", "/anthropic/v1/messages", anth, "", "evil.test", 403, false, errPermission, "Host header"},
		{"foreign Host (OpenAI)", "/openai/v1/chat/completions", oa, "", "evil.test", 403, true, errPermission, "Host header"},
		{"foreign Origin (OpenAI)", "/openai/v1/chat/completions", with(oa, "Origin", "https://evil.test"), "", "", 403, true, errPermission, "browser requests"},
		{"unknown upstream (Anthropic)", "/nosuch/v1/messages", anth, "", "", 404, false, errNotFound, "no upstream called"},
		{"unknown upstream (OpenAI)", "/nosuch/v1/chat/completions", oa, "", "", 404, true, errNotFound, "no upstream called"},
		{"too large (Anthropic)", "/anthropic/v1/messages", anth, big, "", 413, false, errTooLarge, "max_body"},
		{"too large (OpenAI)", "/openai/v1/chat/completions", oa, big, "", 413, true, errTooLarge, "max_body"},
		{"untrusted certificate (Anthropic)", "/badcert/v1/messages", anth, "{}", "", 502, false, errUpstream, "certificate"},
		{"untrusted certificate (OpenAI)", "/badcertoa/v1/chat/completions", oa, "{}", "", 502, true, errUpstream, "certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			req, err := http.NewRequest("POST", tp.base+tc.path, bytes.NewReader([]byte(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			for k, vv := range tc.header {
				req.Header[k] = vv
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get("X-Should-Retry"); got != "false" {
				t.Errorf("x-should-retry %q, want false", got)
			}
			if strings.Contains(strings.ToLower(body), "x-api-key") {
				t.Errorf("the message holds the literal x-api-key: %s", body)
			}
			var msg string
			if tc.openai {
				e := openAIProxyError(t, body)
				wantType, wantCode := openAIError(tc.typ)
				if e.Type != wantType || e.Code != wantCode {
					t.Errorf("type/code %q/%q, want %q/%q", e.Type, e.Code, wantType, wantCode)
				}
				var raw map[string]any
				_ = json.Unmarshal([]byte(body), &raw)
				if _, ok := raw["type"]; ok {
					t.Errorf("OpenAI body carries Anthropic's top-level type: %s", body)
				}
				msg = e.Message
			} else {
				e := proxyError(t, body)
				if e.Error.Type != tc.typ {
					t.Errorf("type %q, want %q", e.Error.Type, tc.typ)
				}
				msg = e.Error.Message
			}
			if !strings.Contains(msg, tc.says) {
				t.Errorf("message %q does not say %q", msg, tc.says)
			}
			if tc.status != 502 && hits.Load() != before {
				t.Errorf("the upstream was reached")
			}
			if tc.status == 502 && resp.Header.Get("X-Clearway-Attempts") != "1" {
				t.Errorf("certificate failure took %s attempts, want 1", resp.Header.Get("X-Clearway-Attempts"))
			}
		})
	}
}

// TestFormatOf pins which API a request is taken to speak.
func TestFormatOf(t *testing.T) {
	cases := []struct {
		path   string
		header http.Header
		want   apiFormat
	}{
		{"/anthropic/v1/messages", nil, formatAnthropic},
		{"/anthropic/v1/messages/count_tokens", http.Header{"Authorization": {"Bearer x"}}, formatAnthropic},
		{"/anthropic/v1/models", http.Header{"Anthropic-Version": {"2023-06-01"}, "Authorization": {"Bearer x"}}, formatAnthropic},
		{"/anthropic/v1/models", http.Header{"X-Api-Key": {"x"}}, formatAnthropic},
		{"/openai/v1/models", http.Header{"Authorization": {"Bearer x"}}, formatOpenAI},
		{"/openai/v1/chat/completions", nil, formatOpenAI},
		{"/x/v1/responses", nil, formatOpenAI},
		{"/x/v1/embeddings", nil, formatOpenAI},
		{"/x/v1/threads/t1/messages", nil, formatOpenAI},
		{"/supermemory/v1/messages", nil, formatAnthropic},
		{"/", nil, formatAnthropic},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", "http://127.0.0.1"+tc.path, nil)
		for k, v := range tc.header {
			r.Header[k] = v
		}
		if got := formatOf(r); got != tc.want {
			t.Errorf("%s %v: format %d, want %d", tc.path, tc.header, got, tc.want)
		}
	}
}
