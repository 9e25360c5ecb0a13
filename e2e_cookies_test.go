package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/cfgate"
	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/proxy/api"
)

// newGate starts a Cloudflare-like TLS upstream whose clearance values carry
// the CFVALUE marker, so tests can sweep logs and files for them.
func newGate(t *testing.T) (*cfgate.Gate, *httptest.Server) {
	g := &cfgate.Gate{Value: func(n int64) string { return fmt.Sprintf("CFVALUE%032d", n) }}
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

const gateYAML = `listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3, initial_delay: 50ms, max_delay: 200ms}
cookie_save_delay: 500ms
upstreams:
  cf:
    url: %s
`

// TestClearanceSurvivesRestart: earn a clearance with the real binary, stop
// it (SIGTERM, then SIGKILL once the jar is on disk), start again: the first
// request takes exactly one upstream attempt, with the cookie, even when the
// client now sends another User-Agent.
func TestClearanceSurvivesRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			g, up := newGate(t)
			sb := newSandbox(t)
			sb.trust(up)
			sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
			p := sb.serve()
			resp, body := request(t, "POST", p.url("/cf/v1/messages"), http.Header{"User-Agent": {"agent-one/1.0"}}, "{}")
			if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "2" {
				t.Fatalf("first run: %d attempts=%s body=%q", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), body)
			}
			earned := time.Now()
			if sig == syscall.SIGKILL {
				took := waitUntil(t, "the clearance on disk", 10*time.Second, func() bool {
					b, err := os.ReadFile(sb.cookieFile())
					return err == nil && strings.Contains(string(b), "cf_clearance")
				})
				t.Logf("save latency: cookie on disk %s after the answer (cookie_save_delay 500ms)", took.Round(time.Millisecond))
				// The issue asks for a kill 2 s after the cookie arrived.
				if rest := 2*time.Second - time.Since(earned); rest > 0 {
					time.Sleep(rest)
				}
			}
			_ = p.stop(sig)
			if sig == syscall.SIGTERM && !strings.Contains(p.stderr.String(), "stopped") {
				t.Errorf("no graceful stop in the log: %s", p.stderr.String())
			}
			st, err := os.Stat(sb.cookieFile())
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("cookie file: %v %v", st, err)
			}
			if d, _ := os.Stat(sb.dataDir()); d.Mode().Perm() != 0o700 {
				t.Errorf("data folder mode %v, want 0700", d.Mode().Perm())
			}
			before, beforeCookie := g.Attempts.Load(), g.WithCookie.Load()
			p2 := sb.serve()
			resp, body = request(t, "POST", p2.url("/cf/v1/messages"), http.Header{"User-Agent": {"another-agent/9"}}, "{}")
			if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != "1" {
				t.Fatalf("after restart: %d attempts=%s body=%q", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), body)
			}
			if g.Attempts.Load()-before != 1 || g.WithCookie.Load()-beforeCookie != 1 {
				t.Fatalf("after restart the upstream saw %d attempts (%d with the cookie), want 1 (1)", g.Attempts.Load()-before, g.WithCookie.Load()-beforeCookie)
			}
			_ = p2.stop(syscall.SIGTERM)
			assertNoSecret(t, sb, "CFVALUE", sb.cookieFile())
		})
	}
}

func TestSecondInstanceIsRefused(t *testing.T) {
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	p := sb.serve()
	_, stderr, code := sb.run("", "serve", "--config", sb.config, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "already running") || !strings.Contains(stderr, p.addr) {
		t.Fatalf("second instance: exit %d, stderr %q; want a clear refusal naming %s", code, stderr, p.addr)
	}
}

func TestCorruptCookieFileIsMovedAside(t *testing.T) {
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	if err := os.MkdirAll(sb.dataDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sb.cookieFile(), []byte(`{"version":1,"upstreams":{"cf":{"cookies":[{"name":`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sb.serve()
	resp, _ := request(t, "GET", p.url("/cf/x"), nil, "")
	if resp.StatusCode != 200 {
		t.Fatalf("with a torn cookie file the proxy answered %d", resp.StatusCode)
	}
	matches, _ := filepath.Glob(sb.cookieFile() + ".corrupt-*")
	if len(matches) != 1 {
		t.Fatalf("corrupt file not moved aside: %v", matches)
	}
	if !strings.Contains(p.stderr.String(), "corrupt") {
		t.Errorf("no warning about the corrupt file in the log: %s", p.stderr.String())
	}
}

// TestCookiesCLI imports a file written by real curl -c, lists, exports, and
// clears, both with the proxy stopped (on the file) and running (through it).
func TestCookiesCLI(t *testing.T) {
	curl := desktoptest.Require(t, "curl")["curl"]
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	jarFile := filepath.Join(sb.home, "curl-cookies.txt")
	out, err := exec.Command(curl, "-sk", "-c", jarFile, "-A", "browser/1.0", up.URL+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	stdout, stderr, code := sb.run("", "cookies", "import", jarFile)
	if code != 0 || !strings.Contains(stdout, "imported 1 cookie") || !strings.Contains(stdout, "user_agent") {
		t.Fatalf("import (stopped): %d %q %q", code, stdout, stderr)
	}
	stdout, _, _ = sb.run("", "cookies", "list")
	if !strings.Contains(stdout, "cf_clearance") || strings.Contains(stdout, "CFVALUE") {
		t.Fatalf("list must show the name, never the value: %q", stdout)
	}
	stdout, _, _ = sb.run("", "cookies", "list", "cf", "--show-values")
	if !strings.Contains(stdout, "CFVALUE") {
		t.Fatalf("list --show-values: %q", stdout)
	}
	p := sb.serve()
	stdout, stderr, code = sb.run("", "cookies", "list", "--json")
	if code != 0 || !strings.Contains(stdout, "cf_clearance") {
		t.Fatalf("list through the running proxy: %d %q %q", code, stdout, stderr)
	}
	exported := filepath.Join(sb.home, "exported.txt")
	if _, stderr, code = sb.run("", "cookies", "export", exported); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	st, _ := os.Stat(exported)
	if st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("exported file mode %v", st)
	}
	b, _ := os.ReadFile(exported)
	orig, _ := os.ReadFile(jarFile)
	if !strings.Contains(string(b), "#HttpOnly_") || !strings.Contains(string(b), valueOf(string(orig))) {
		t.Fatalf("export does not round-trip curl's cookie:\n%s\nvs\n%s", b, orig)
	}
	stdout, _, code = sb.run("", "cookies", "clear", "cf")
	if code != 0 || !strings.Contains(stdout, "cleared 1") {
		t.Fatalf("clear: %q", stdout)
	}
	stdout, _, _ = sb.run("", "status", "--json")
	var status api.Status
	if err := json.Unmarshal([]byte(stdout), &status); err != nil || len(status.Upstreams) != 1 {
		t.Fatalf("status --json: %v %q", err, stdout)
	}
	if u := status.Upstreams[0]; u.Name != "cf" || u.CookieCount != 0 || len(u.CookieNames) != 0 {
		t.Fatalf("status after clear: %+v, want upstream cf with no cookies", u)
	}
	stdout, _, _ = sb.run("", "status")
	if !regexp.MustCompile(`(?m)^cf\s`).MatchString(stdout) || strings.Contains(stdout, "CFVALUE") || strings.Contains(stdout, "cf_clearance") {
		t.Fatalf("status: %q, want the cf row without the cleared cookie", stdout)
	}
	_ = p.stop(syscall.SIGTERM)
	data, _ := os.ReadFile(sb.cookieFile())
	if strings.Contains(string(data), "cf_clearance") {
		t.Fatal("cleared cookie still in the file after shutdown")
	}
}

// valueOf returns the value of the first cookie line of a cookies.txt.
func valueOf(txt string) string {
	for _, line := range strings.Split(txt, "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 7 {
			return f[6]
		}
	}
	return "NO-COOKIE-LINE"
}

// assertNoSecret fails if secret appears in any file under the sandbox (but
// the allowed ones) or in the log.
func assertNoSecret(t *testing.T, sb *sandbox, secret string, allowed ...string) {
	t.Helper()
	allow := map[string]bool{}
	for _, a := range allowed {
		allow[a] = true
	}
	_ = filepath.Walk(sb.home, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || allow[path] || strings.HasSuffix(path, ".pem") || strings.Contains(path, "curl-cookies") || strings.Contains(path, "exported") {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), secret) {
			t.Errorf("secret found in %s", path)
		}
		return nil
	})
}
