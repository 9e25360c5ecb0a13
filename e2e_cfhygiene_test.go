package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/cfgate"
)

// TestStealthDenyAfterRestart: the real binary earns cf_clearance and a
// __cf_bm, stops, and starts again after "the network changed" (the upstream
// now refuses every __cf_bm it did not issue in its current lifetime, with an
// empty 403 from a Cloudflare edge). The first request after the restart
// still succeeds: clearway drops the short-lived Cloudflare cookies, keeps
// cf_clearance and sends it, and retries once. A jar whose __cf_bm is older
// than 30 minutes loses it at start, before any request.
func TestStealthDenyAfterRestart(t *testing.T) {
	for _, tc := range []struct {
		name         string
		age          time.Duration // how old the saved __cf_bm is made to look
		wantAttempts string
		wantDenied   int64
		wantLog      string
	}{
		{"fresh jar: stealth deny, drop, retry once", 0, "2", 1, "stealth deny"},
		{"jar older than 30 minutes: dropped at start", 45 * time.Minute, "1", 0, "older than 30 minutes at start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &cfgate.BotGate{}
			up := httptest.NewTLSServer(g)
			t.Cleanup(up.Close)
			sb := newSandbox(t)
			sb.trust(up)
			sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
			p := sb.serve()
			resp, body := request(t, "POST", p.url("/cf/v1/messages"), http.Header{"User-Agent": {"agent/1.0"}}, "{}")
			if resp.StatusCode != 200 {
				t.Fatalf("first run: %d %q", resp.StatusCode, body)
			}
			_ = p.stop(syscall.SIGTERM)
			data, err := os.ReadFile(sb.cookieFile())
			if err != nil || !strings.Contains(string(data), `"__cf_bm"`) || !strings.Contains(string(data), `"cf_clearance"`) {
				t.Fatalf("saved jar lacks __cf_bm or cf_clearance (%v)", err)
			}
			if tc.age > 0 {
				// Age every saved cookie's creation time, as if the jar had
				// been saved by a run long ago.
				old := time.Now().Add(-tc.age).UTC().Format(time.RFC3339Nano)
				aged := regexp.MustCompile(`"created":\s*"[^"]*"`).ReplaceAll(data, []byte(`"created":"`+old+`"`))
				if err := os.WriteFile(sb.cookieFile(), aged, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			g.Forget() // the client is on another network now
			withClearance := g.WithClearance.Load()
			p2 := sb.serve()
			resp, body = request(t, "POST", p2.url("/cf/v1/messages"), http.Header{"User-Agent": {"agent/1.0"}}, "{}")
			if resp.StatusCode != 200 || resp.Header.Get("X-Clearway-Attempts") != tc.wantAttempts {
				t.Fatalf("after restart: %d after %s attempts (%q), want 200 after %s", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), body, tc.wantAttempts)
			}
			if g.Denied.Load() != tc.wantDenied {
				t.Errorf("upstream gave %d stealth denies, want %d", g.Denied.Load(), tc.wantDenied)
			}
			if g.WithClearance.Load() != withClearance+1 {
				t.Errorf("the request that passed did not carry the kept cf_clearance")
			}
			_ = p2.stop(syscall.SIGTERM)
			logText := p2.stderr.String()
			if b, err := os.ReadFile(sb.logFile()); err == nil {
				logText += string(b)
			}
			if !strings.Contains(logText, tc.wantLog) || !strings.Contains(logText, "__cf_bm") {
				t.Errorf("the log does not say what was dropped (%q): %s", tc.wantLog, logText)
			}
			for _, v := range g.SeenBotCookies() {
				if strings.Contains(logText, v) {
					t.Fatalf("a __cf_bm value is in the log")
				}
			}
			if data, _ := os.ReadFile(sb.cookieFile()); !strings.Contains(string(data), `"cf_clearance"`) {
				t.Error("cf_clearance is gone from the jar")
			}
		})
	}
}
