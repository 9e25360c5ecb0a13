package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
)

// headerRecorder is an upstream that records the headers it receives.
type headerRecorder struct {
	mu   sync.Mutex
	seen []http.Header
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, r.Header.Clone())
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (h *headerRecorder) last() http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		return nil
	}
	return h.seen[len(h.seen)-1]
}

const keysYAML = `listen: 127.0.0.1:0
upstreams:
  anthropic:
    url: %s
    key: anthropic
    auth_header: x-api-key
    headers: {x-supermemory-api-key: "${key:supermemory}"}
  openai:
    url: %s
    key: openai
    auth_header: authorization
`

// TestKeysThroughTheRealSecretService stores keys with the real binary in a
// real gnome-keyring on a private session bus and checks the whole path: the
// keychain holds them, the proxy injects them, the client token is required,
// checked and never forwarded, a deleted key stops being sent at once, and no
// secret lands in a log, status output or file.
func TestKeysThroughTheRealSecretService(t *testing.T) {
	bus := desktoptest.StartBus(t)
	kr := desktoptest.StartKeyring(t, bus)
	rec := &headerRecorder{}
	up := httptest.NewTLSServer(rec)
	defer up.Close()
	sb := newSandbox(t)
	sb.useDesktop(bus, kr)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(keysYAML, "%s", up.URL))

	const antKey, smKey, oaKey = "sk-ant-TESTSECRET-0001", "sm-TESTSECRET-0002", "sk-oa-TESTSECRET-0003"
	for name, val := range map[string]string{"anthropic": antKey + "\n", "supermemory": smKey, "openai": oaKey} {
		stdout, stderr, code := sb.run(val, "keys", "set", name)
		if code != 0 || strings.Contains(stdout+stderr, "TESTSECRET") {
			t.Fatalf("keys set %s: exit %d, %q %q", name, code, stdout, stderr)
		}
	}
	if got, ok := kr.Lookup(t, "clearway", "anthropic"); !ok || got != antKey {
		t.Fatalf("secret-tool lookup: %q %v, want the key without its newline", got, ok)
	}
	stdout, _, code := sb.run("", "keys", "list")
	if code != 0 || !strings.Contains(stdout, "anthropic") || !strings.Contains(stdout, "set") || strings.Contains(stdout, "TESTSECRET") {
		t.Fatalf("keys list: %q", stdout)
	}
	token, _, code := sb.run("", "token")
	token = strings.TrimSpace(token)
	if code != 0 || len(token) != 43 {
		t.Fatalf("token: %q (exit %d), want 43 URL-safe characters", token, code)
	}
	if again, _, _ := sb.run("", "token"); strings.TrimSpace(again) != token {
		t.Fatal("the token changed between two calls")
	}

	p := sb.serve()
	resp, body := request(t, "POST", p.url("/anthropic/v1/messages"), nil, "{}")
	if resp.StatusCode != 401 {
		t.Fatalf("without the token: %d %s", resp.StatusCode, body)
	}
	for _, h := range []http.Header{{"X-Api-Key": {token}}, {"Authorization": {"Bearer " + token}}} {
		resp, body = request(t, "POST", p.url("/anthropic/v1/messages"), h, "{}")
		got := rec.last()
		if resp.StatusCode != 200 || got.Get("X-Api-Key") != antKey || got.Get("X-Supermemory-Api-Key") != smKey || got.Get("Authorization") != "" {
			t.Fatalf("with the token in %v: %d %s, upstream headers %v", h, resp.StatusCode, body, got)
		}
		for k, vv := range got {
			for _, v := range vv {
				if strings.Contains(v, token) {
					t.Fatalf("the client token was forwarded in %s", k)
				}
			}
		}
	}
	resp, _ = request(t, "POST", p.url("/openai/v1/chat/completions"), http.Header{"Authorization": {"Bearer " + token}}, "{}")
	if resp.StatusCode != 200 || rec.last().Get("Authorization") != "Bearer "+oaKey {
		t.Fatalf("openai: %d, upstream Authorization %q", resp.StatusCode, rec.last().Get("Authorization"))
	}

	// keys delete reaches the running proxy at once.
	if _, stderr, code := sb.run("", "keys", "delete", "openai"); code != 0 {
		t.Fatalf("keys delete: %s", stderr)
	}
	resp, body = request(t, "POST", p.url("/openai/v1/chat/completions"), http.Header{"Authorization": {"Bearer " + token}}, "{}")
	if resp.StatusCode != 401 || !strings.Contains(body, "clearway keys set openai") {
		t.Fatalf("after keys delete: %d %s", resp.StatusCode, body)
	}
	// ...and so does keys set.
	if _, stderr, code := sb.run(oaKey, "keys", "set", "openai"); code != 0 {
		t.Fatalf("keys set again: %s", stderr)
	}
	resp, _ = request(t, "POST", p.url("/openai/v1/chat/completions"), http.Header{"Authorization": {"Bearer " + token}}, "{}")
	if resp.StatusCode != 200 {
		t.Fatalf("after keys set: %d", resp.StatusCode)
	}
	status, _, _ := sb.run("", "status", "--json")
	if !strings.Contains(status, `"anthropic": true`) {
		t.Errorf("status does not show the key as set: %s", status)
	}
	// token --rotate: the running proxy takes the new token and refuses the old.
	newTok, stderr, code := sb.run("", "token", "--rotate")
	newTok = strings.TrimSpace(newTok)
	if code != 0 || len(newTok) != 43 || newTok == token {
		t.Fatalf("token --rotate: %q exit %d %s", newTok, code, stderr)
	}
	if resp, _ = request(t, "POST", p.url("/anthropic/v1/messages"), http.Header{"X-Api-Key": {token}}, "{}"); resp.StatusCode != 401 {
		t.Errorf("old token after rotate: %d, want 401", resp.StatusCode)
	}
	if resp, _ = request(t, "POST", p.url("/anthropic/v1/messages"), http.Header{"X-Api-Key": {newTok}}, "{}"); resp.StatusCode != 200 {
		t.Errorf("new token after rotate: %d, want 200", resp.StatusCode)
	}
	_ = p.stop(syscall.SIGTERM)
	logText := p.stderr.String()
	for _, secret := range []string{antKey, smKey, oaKey, token, newTok} {
		if strings.Contains(logText, secret) || strings.Contains(status, secret) {
			t.Errorf("a secret reached the log or status output")
		}
		assertNoSecret(t, sb, secret)
	}
	if b, err := os.ReadFile(sb.logFile()); err != nil || len(b) == 0 {
		t.Errorf("no log file at %s: %v", sb.logFile(), err)
	}
}

// TestNoSecretServiceGivesAClearError: a session bus with nothing providing
// org.freedesktop.secrets must give the clear error quickly, not hang.
func TestNoSecretServiceGivesAClearError(t *testing.T) {
	bus := desktoptest.StartBus(t)
	sb := newSandbox(t)
	sb.useDesktop(bus, nil)
	start := time.Now()
	_, stderr, code := sb.run("sk-x", "keys", "set", "anthropic")
	took := time.Since(start)
	if code == 0 || !strings.Contains(stderr, "Secret Service") || !strings.Contains(stderr, "CLEARWAY_KEYCHAIN=env") {
		t.Fatalf("exit %d, stderr %q; want an error naming the Secret Service and the fallback", code, stderr)
	}
	t.Logf("no Secret Service: clear error after %s", took.Round(time.Millisecond))
	_, stderr, code = sb.run("", "serve", "--config", filepath.Join(sb.home, "none.yaml"))
	if code == 0 {
		t.Fatalf("serve with a missing explicit config succeeded: %s", stderr)
	}
}

// TestEnvFallback: CLEARWAY_KEYCHAIN=env reads keys and the token from the
// environment, with a warning that it is less safe.
func TestEnvFallback(t *testing.T) {
	rec := &headerRecorder{}
	up := httptest.NewTLSServer(rec)
	defer up.Close()
	sb := newSandbox(t)
	sb.trust(up)
	sb.env["CLEARWAY_KEY_ANTHROPIC"] = "sk-ant-ENVSECRET"
	sb.env["CLEARWAY_KEY_SUPERMEMORY"] = "sm-ENVSECRET"
	sb.env["CLEARWAY_TOKEN"] = "env-token-0123456789abcdef0123456789"
	sb.writeConfig(strings.ReplaceAll(keysYAML, "%s", up.URL))
	p := sb.serve()
	resp, body := request(t, "POST", p.url("/anthropic/v1/messages"), http.Header{"X-Api-Key": {"env-token-0123456789abcdef0123456789"}}, "{}")
	if resp.StatusCode != 200 || rec.last().Get("X-Api-Key") != "sk-ant-ENVSECRET" {
		t.Fatalf("env fallback: %d %s", resp.StatusCode, body)
	}
	resp, body = request(t, "POST", p.url("/openai/v1/chat/completions"), http.Header{"Authorization": {"Bearer env-token-0123456789abcdef0123456789"}}, "{}")
	if resp.StatusCode != 401 || !strings.Contains(body, "CLEARWAY_KEY_OPENAI") {
		t.Errorf("a missing key in env mode must name its variable: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(strings.ToLower(p.stderr.String()), "less safe") {
		t.Errorf("no warning that the env fallback is less safe: %s", p.stderr.String())
	}
}
