//go:build linux

package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/instance"
)

// TestBareMachineServes runs the real binary as `go run .` does (no
// arguments) on a machine with no session bus, no keychain and a fresh HOME:
// it says in one line that it runs headless and in one where the client
// token is kept, answers /_clearway/health, keeps the token in a 0600 file in
// a 0700 folder, serves an upstream that needs no key, and answers a request
// for a keyed upstream with the 401 that names CLEARWAY_KEY_<NAME>.
func TestBareMachineServes(t *testing.T) {
	var gotKey []string
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = append(gotKey, r.Header.Get("x-api-key")+r.Header.Get("authorization"))
		w.Header().Set("content-type", "application/json")
		w.Write([]byte(`{"id":"msg_1","type":"message"}`))
	}))
	defer up.Close()
	sb := noBusSandbox(t)
	sb.trust(up)
	sb.writeConfig("listen: 127.0.0.1:0\nupstreams:\n  open:\n    url: " + up.URL + "\n  keyed:\n    url: " + up.URL + "\n    key: bare-key\n")

	p := sb.start() // no arguments: the tray app, headless here
	var info instance.Info
	waitUntil(t, "the headless proxy records its address", 30*time.Second, func() bool {
		i, err := instance.Read(sb.dataDir())
		info = i
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("clearway exited (%v):\n%s", err, p.stderr.String())
		default:
		}
		return err == nil && info.Addr != ""
	})
	resp, body := request(t, "GET", "http://"+info.Addr+"/_clearway/health", nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}

	tokFile := filepath.Join(sb.env["XDG_STATE_HOME"], "clearway", "client_token")
	fi, err := os.Stat(tokFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %s: %v (mode %v), want 0600", tokFile, err, fi)
	}
	if di, _ := os.Stat(filepath.Dir(tokFile)); di.Mode().Perm() != 0o700 {
		t.Errorf("token folder mode %v, want 0700", di.Mode().Perm())
	}
	raw, _ := os.ReadFile(tokFile)
	token := strings.TrimSpace(string(raw))
	out := p.stderr.String()
	if n := strings.Count(out, "client token: no keychain here (no D-Bus session bus); it is kept in "+tokFile); n != 1 {
		t.Errorf("%d lines say where the token is and why, want 1:\n%s", n, out)
	}
	if strings.Contains(out, token) {
		t.Error("the token is in clearway's output")
	}

	hdr := http.Header{"X-Api-Key": {token}, "Content-Type": {"application/json"}}
	resp, body = request(t, "POST", "http://"+info.Addr+"/open/v1/messages", hdr, `{}`)
	if resp.StatusCode != 200 || len(gotKey) != 1 || gotKey[0] != "" {
		t.Errorf("keyless upstream: %d %s (upstream saw %q)", resp.StatusCode, body, gotKey)
	}
	resp, body = request(t, "POST", "http://"+info.Addr+"/keyed/v1/messages", hdr, `{}`)
	if resp.StatusCode != 401 || !strings.Contains(body, "CLEARWAY_KEY_BARE_KEY") || !strings.Contains(body, "CLEARWAY_KEYCHAIN=env") {
		t.Errorf("keyed upstream without a keychain: %d %s, want the 401 naming CLEARWAY_KEY_BARE_KEY", resp.StatusCode, body)
	}
	if len(gotKey) != 1 {
		t.Errorf("the keyed request reached the upstream")
	}
	resp, _ = request(t, "POST", "http://"+info.Addr+"/open/v1/messages", http.Header{"X-Api-Key": {"wrong"}}, `{}`)
	if resp.StatusCode != 401 {
		t.Errorf("a wrong token got %d, want 401", resp.StatusCode)
	}

	// The CLI finds the same token: `clearway token` and `clearway status`.
	stdout, stderr, code := sb.run("", "token")
	if code != 0 || strings.TrimSpace(stdout) != token || !strings.Contains(stderr, tokFile) {
		t.Errorf("clearway token: exit %d, same token %v, stderr %q", code, strings.TrimSpace(stdout) == token, stderr)
	}
	if stdout, stderr, code := sb.run("", "status"); code != 0 || !strings.Contains(stdout, "serving on http://"+info.Addr) {
		t.Errorf("clearway status: exit %d\n%s%s", code, stdout, stderr)
	}
	// Rotating replaces the file's token and the running proxy switches at once.
	stdout, stderr, code = sb.run("", "token", "--rotate")
	fresh := strings.TrimSpace(stdout)
	if code != 0 || fresh == token || len(fresh) != 43 {
		t.Fatalf("clearway token --rotate: exit %d, %q\n%s", code, stdout, stderr)
	}
	if raw, _ := os.ReadFile(tokFile); strings.TrimSpace(string(raw)) != fresh {
		t.Error("the token file does not hold the rotated token")
	}
	if resp, body := request(t, "POST", "http://"+info.Addr+"/open/v1/messages", http.Header{"X-Api-Key": {fresh}}, `{}`); resp.StatusCode != 200 {
		t.Errorf("the rotated token: %d %s", resp.StatusCode, body)
	}
	if resp, _ := request(t, "POST", "http://"+info.Addr+"/open/v1/messages", hdr, `{}`); resp.StatusCode != 401 {
		t.Errorf("the old token after rotation: %d, want 401", resp.StatusCode)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v\n%s", err, p.stderr.String())
	}
}
