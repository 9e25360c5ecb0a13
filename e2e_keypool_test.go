package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestKeyPoolAndFallbackThroughTheBinary: the real binary with a pool of two
// keys and a fallback. Key a is refused (401), key b is rate limited (429):
// the client still gets 200 from the fallback, with only the model
// rewritten; `clearway status` (another process) shows each key by name and
// state, and no key value reaches the status output, the log or any file.
func TestKeyPoolAndFallbackThroughTheBinary(t *testing.T) {
	const (
		keyA = "sk-pool-a-E2ESECRET"
		keyB = "sk-pool-b-E2ESECRET"
		keyF = "sk-direct-E2ESECRET"
	)
	var mu sync.Mutex
	var primaryKeys []string
	primary := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		primaryKeys = append(primaryKeys, r.Header.Get("X-Api-Key"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.Header.Get("X-Api-Key") {
		case keyA:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)
		default:
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
		}
	}))
	t.Cleanup(primary.Close)
	var fbBodies []string
	fallback := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		fbBodies = append(fbBodies, string(b))
		mu.Unlock()
		if r.Header.Get("X-Api-Key") != keyF {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"type":"message","content":[]}`)
	}))
	t.Cleanup(fallback.Close)

	sb := newSandbox(t)
	sb.trust(primary) // httptest servers share one certificate
	sb.env["CLEARWAY_KEY_A"], sb.env["CLEARWAY_KEY_B"], sb.env["CLEARWAY_KEY_F"] = keyA, keyB, keyF
	sb.writeConfig(`listen: 127.0.0.1:0
client_token: false
upstreams:
  primary:
    url: ` + primary.URL + `
    keys: [a, b]
    retry: {max_retries: 1}
    fallbacks: [direct]
  direct:
    url: ` + fallback.URL + `
    key: f
    model_map: {claude-opus-4-1: claude-sonnet-4-5}
`)
	p := sb.serve()
	const body = `{"model": "claude-opus-4-1","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	for i := range 3 {
		resp, got := request(t, "POST", p.url("/primary/v1/messages"), http.Header{"Content-Type": {"application/json"}}, body)
		if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Upstream") != "direct" {
			t.Fatalf("request %d: %d from %q: %s", i+1, resp.StatusCode, resp.Header.Get("X-Clearway-Upstream"), got)
		}
	}
	mu.Lock()
	if len(primaryKeys) != 2 || primaryKeys[0] != keyA || primaryKeys[1] != keyB {
		t.Errorf("the primary got %d requests; want 2 (a refused, then b rate limited), then none while a is refused and b cools", len(primaryKeys))
	}
	want := strings.Replace(body, `"claude-opus-4-1"`, `"claude-sonnet-4-5"`, 1)
	for _, b := range fbBodies {
		if b != want {
			t.Errorf("the fallback got %q, want %q", b, want)
		}
	}
	mu.Unlock()

	table, _, code := sb.run("", "status")
	if code != 0 || !strings.Contains(table, "a (refused: 401), b (cooling until ") || !strings.Contains(table, "direct") {
		t.Errorf("status does not show the pool: %s", table)
	}
	js, _, _ := sb.run("", "status", "--json")
	var st struct {
		Upstreams []struct {
			Name    string `json:"name"`
			KeyPool []struct {
				Name, State, Why string
			} `json:"key_pool"`
			Fallbacks []string `json:"fallbacks"`
			Breaker   string   `json:"breaker"`
		} `json:"upstreams"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	for _, u := range st.Upstreams {
		if u.Name == "primary" && (len(u.KeyPool) != 2 || u.KeyPool[0].State != "refused" || u.KeyPool[1].State != "cooling" || u.Breaker != "closed" || len(u.Fallbacks) != 1) {
			t.Errorf("status --json primary: %+v", u)
		}
	}
	_ = p.stop(syscall.SIGTERM)
	logText := p.stderr.String()
	if n := strings.Count(logText, "the upstream refused a key"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once", n)
	}
	for _, secret := range []string{keyA, keyB, keyF} {
		if strings.Contains(logText, secret) || strings.Contains(table, secret) || strings.Contains(js, secret) {
			t.Errorf("a key value reached the log or status output")
		}
		assertNoSecret(t, sb, secret)
	}
}
