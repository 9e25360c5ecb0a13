package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/clearway/clearway/internal/browsertest"
	"github.com/clearway/clearway/internal/cfgate"
	"github.com/clearway/clearway/internal/desktoptest"
)

// dashUpstream answers like Anthropic: a Messages answer with usage and the
// rate-limit headers, recording the key each request carried. /gated/ is
// behind a Cloudflare-like gate.
type dashUpstream struct {
	gate   cfgate.Gate
	mu     sync.Mutex
	key    string // the x-api-key of the latest request
	cookie string // and its Cookie header
}

func (u *dashUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/gated/") {
		u.gate.ServeHTTP(w, r)
		return
	}
	u.mu.Lock()
	u.key, u.cookie = r.Header.Get("X-Api-Key"), r.Header.Get("Cookie")
	u.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("anthropic-ratelimit-tokens-limit", "40000")
	h.Set("anthropic-ratelimit-tokens-remaining", "38000")
	h.Set("anthropic-ratelimit-tokens-reset", time.Now().Add(2*time.Minute).UTC().Format(time.RFC3339))
	h.Set("anthropic-ratelimit-requests-limit", "50")
	h.Set("anthropic-ratelimit-requests-remaining", "49")
	_, _ = w.Write([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",
		"content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":1200,"output_tokens":300,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}`))
}

// last returns the key and cookies the latest request carried.
func (u *dashUpstream) last() (key, cookie string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.key, u.cookie
}

// TestDashboardInRealChromium drives the real binary's dashboard in headless
// Chromium: one-time login, live requests with their attempt timeline,
// headroom bars, the usage chart from the ledger, setting a key and rotating
// the token from Settings, and a page on another local port that can neither
// read nor change anything. No page may log an error or a CSP violation.
func TestDashboardInRealChromium(t *testing.T) {
	bus := desktoptest.StartBus(t)
	kr := desktoptest.StartKeyring(t, bus)
	up := &dashUpstream{}
	srv := httptest.NewTLSServer(up)
	defer srv.Close()
	sb := newSandbox(t)
	sb.useDesktop(bus, kr)
	sb.trust(srv)
	sb.writeConfig(fmt.Sprintf(`listen: 127.0.0.1:0
upstreams:
  anthropic: {url: %s, key: anthropic, auth_header: x-api-key}
  gated: {url: %s/gated}
`, srv.URL, srv.URL))
	if _, errOut, code := sb.run("sk-ant-OLDKEY-0001", "keys", "set", "anthropic"); code != 0 {
		t.Fatalf("keys set: %s", errOut)
	}
	p := sb.serve()
	tokenOut, errOut, code := sb.run("", "token")
	if code != 0 {
		t.Fatalf("token: %s", errOut)
	}
	token := strings.TrimSpace(tokenOut)
	send := func(path, tok string) (int, string) {
		t.Helper()
		resp, body := request(t, "POST", p.url(path), http.Header{"X-Api-Key": {tok}, "Content-Type": {"application/json"},
			"User-Agent": {"claude-cli/2.1.0 (external, cli)"}}, `{"model":"claude-sonnet-4-5","max_tokens":5}`)
		return resp.StatusCode, body
	}

	// Without a session: 401 that says how to open it.
	resp, body := request(t, "GET", p.url("/_clearway/ui/"), nil, "")
	if resp.StatusCode != 401 || !strings.Contains(body, "clearway dashboard") {
		t.Fatalf("page without session: %d %q", resp.StatusCode, body)
	}
	link, errOut, code := sb.run("", "dashboard", "--print")
	link = strings.TrimSpace(link)
	if code != 0 || !strings.HasPrefix(link, p.url("/_clearway/ui/login?code=")) || strings.Contains(link, token) {
		t.Fatalf("dashboard --print: %d %q %s", code, link, errOut)
	}

	b := browsertest.Start(t)
	ctx, probs := b.Tab(t, 2*time.Minute)
	began := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))); err != nil {
		t.Fatal(err)
	}
	fcp, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`(performance.getEntriesByName("first-contentful-paint")[0]||{startTime:-1}).startTime`))
	t.Logf("dashboard: login to ready %v, first contentful paint %.0f ms", time.Since(began).Round(time.Millisecond), fcp)

	// A used code does not work again, in this browser or any other.
	resp, _ = request(t, "GET", link, nil, "")
	if resp.StatusCode != 401 {
		t.Fatalf("reused code: %d, want 401", resp.StatusCode)
	}

	rows := func() int {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#req-table tbody tr").length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A request appears in Requests without a reload.
	if st, body := send("/anthropic/v1/messages", token); st != 200 {
		t.Fatalf("request: %d %s", st, body)
	}
	took := waitUntil(t, "the request shows in the live log", 10*time.Second, func() bool { return rows() == 1 })
	t.Logf("dashboard: first live update %v after the answer", took.Round(time.Millisecond))

	// Headroom bars show what the upstream sent.
	meter, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-upstream="anthropic"] [data-limit="tokens"] [role=meter]')||{getAttribute(){return ""}}).getAttribute("aria-valuenow")`))
	if err != nil || meter != "38000" {
		waitUntil(t, "headroom bar", 5*time.Second, func() bool {
			meter, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('[data-upstream="anthropic"] [data-limit="tokens"] [role=meter]')||{getAttribute(){return ""}}).getAttribute("aria-valuenow")`))
			return meter == "38000"
		})
	}

	// A cookie-gated request: 2 attempts, the first refused by Cloudflare.
	if st, body := send("/gated/v1/messages", token); st != 200 {
		t.Fatalf("gated request: %d %s", st, body)
	}
	waitUntil(t, "the gated request shows", 10*time.Second, func() bool { return rows() == 2 })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-requests")), chromedp.Click(chromedp.CSS(`#req-table tbody tr[data-outcome="retried"]`)),
		chromedp.WaitVisible(chromedp.CSS("#timeline"))); err != nil {
		t.Fatal(err)
	}
	timeline, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#timeline-list")))
	if !strings.Contains(timeline, "attempt 1: HTTP 429") || !strings.Contains(timeline, "1015") || !strings.Contains(timeline, "attempt 2: HTTP 200") {
		t.Fatalf("timeline: %q", timeline)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#timeline button"))); err != nil {
		t.Fatal(err)
	}

	// The usage chart has the ledger's numbers (1,500 tokens for the model).
	waitUntil(t, "usage chart from the ledger", 20*time.Second, func() bool {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-overview")), chromedp.Click(chromedp.CSS("#tab-usage"))); err != nil {
			t.Fatal(err)
		}
		raw, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.clearwayCharts["chart-model"] && window.clearwayCharts["chart-model"].raw || null)`))
		return strings.Contains(raw, "1500") || strings.Contains(raw, "3000")
	})

	// A page on another local port can neither read nor change anything.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><body><form id=f method=POST action="%s"><input name=x value=1></form>
<script>
fetch(%q, {credentials: "include"}).then(r => r.text()).then(t => { document.body.dataset.read = "yes:" + t.slice(0, 40) }).catch(e => { document.body.dataset.read = "blocked" });
</script></body>`, p.url("/_clearway/token/rotate"), p.url("/_clearway/status"))
	}))
	defer evil.Close()
	ectx, _ := b.Tab(t, time.Minute) // its problems are the attack's, not ours
	if err := chromedp.Do(ectx, chromedp.Navigate(evil.URL), chromedp.WaitReady(chromedp.CSS(`body[data-read]`))); err != nil {
		t.Fatal(err)
	}
	read, _ := chromedp.Run(ectx, chromedp.Evaluate[string](`document.body.dataset.read`))
	if read != "blocked" {
		t.Fatalf("a page on another port read the status: %q", read)
	}
	if err := chromedp.Do(ectx, chromedp.Submit(chromedp.CSS("#f")), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	if st, _ := send("/anthropic/v1/messages", token); st != 200 {
		t.Fatalf("the cross-origin form POST rotated the token (old token now %d)", st)
	}

	// Settings: a key set in the page is what the upstream receives next.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-settings")),
		chromedp.SendKeys(chromedp.CSS("#key-name"), "anthropic"), chromedp.SendKeys(chromedp.CSS("#key-value"), "sk-ant-NEWKEY-0002"),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "key saved", 10*time.Second, func() bool {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#key-msg")))
		return strings.Contains(msg, "Saved anthropic")
	})
	code, _ = send("/anthropic/v1/messages", token)
	if key, _ := up.last(); code != 200 || key != "sk-ant-NEWKEY-0002" {
		t.Fatalf("after setting the key in the page: status %d, upstream got %q", code, key)
	}
	// Token rotation: the old token stops at once, the new one works.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#rotate"))); err != nil {
		t.Fatal(err)
	}
	var newTok string
	waitUntil(t, "token rotated", 10*time.Second, func() bool {
		newTok, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`window.clearway.token || ""`))
		return newTok != ""
	})
	if st, _ := send("/anthropic/v1/messages", token); st != 401 {
		t.Fatalf("old token after rotation: %d, want 401", st)
	}
	if st, _ := send("/anthropic/v1/messages", newTok); st != 200 {
		t.Fatalf("new token after rotation: %d", st)
	}

	// Cookies: Clear empties the gated upstream's jar; an imported
	// cookies.txt is what the upstream receives next.
	status := func() map[string]int {
		var st struct {
			Upstreams []struct {
				Name        string
				CookieCount int `json:"cookie_count"`
			}
		}
		_, body := request(t, "GET", p.url("/_clearway/status"), http.Header{"Authorization": {"Bearer " + newTok}}, "")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("status: %v %s", err, body)
		}
		n := map[string]int{}
		for _, u := range st.Upstreams {
			n[u.Name] = u.CookieCount
		}
		return n
	}
	if n := status()["gated"]; n == 0 {
		t.Fatal("the gated upstream's jar is empty after its clearance; nothing to clear")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-overview")), chromedp.Click(chromedp.CSS("#tab-settings")),
		chromedp.WaitVisible(chromedp.CSS(`#cookie-list button[aria-label="Clear cookies of gated"]`))); err != nil {
		t.Fatal(err)
	}
	// The list is drawn again on every status refresh, so the button is
	// clicked from the page's own script (a node id may be stale).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#cookie-list button[aria-label="Clear cookies of gated"]').click(); true`)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "cookies cleared", 10*time.Second, func() bool {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#cookie-msg")))
		return strings.Contains(msg, "of gated")
	})
	if n := status()["gated"]; n != 0 {
		t.Fatalf("gated has %d cookies after Clear in the page", n)
	}
	cookiesTxt := filepath.Join(t.TempDir(), "cookies.txt")
	line := fmt.Sprintf("127.0.0.1\tFALSE\t/\tFALSE\t%d\tdash_import\tfrom-the-page\n", time.Now().Add(time.Hour).Unix())
	if err := os.WriteFile(cookiesTxt, []byte("# Netscape HTTP Cookie File\n"+line), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#cookie-file"), []string{cookiesTxt})); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "cookies imported", 10*time.Second, func() bool {
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#cookie-msg")))
		return strings.Contains(msg, "Imported") && strings.Contains(msg, `"anthropic":1`)
	})
	code, _ = send("/anthropic/v1/messages", newTok)
	if _, cookie := up.last(); code != 200 || !strings.Contains(cookie, "dash_import=from-the-page") {
		t.Fatalf("after importing in the page: status %d, upstream got Cookie %q", code, cookie)
	}

	// The notifications switch is saved: the settings API reads it back.
	settings := func() bool {
		var s struct{ Notifications *bool }
		_, body := request(t, "GET", p.url("/_clearway/settings"), http.Header{"Authorization": {"Bearer " + newTok}}, "")
		if err := json.Unmarshal([]byte(body), &s); err != nil || s.Notifications == nil {
			t.Fatalf("settings: %v %s", err, body)
		}
		return *s.Notifications
	}
	before := settings()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#pref-notifications"))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the switch saved", 10*time.Second, func() bool { return settings() != before })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#pref-notifications"))); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the switch saved back", 10*time.Second, func() bool { return settings() == before })

	if dir := os.Getenv("CLEARWAY_SCREENSHOTS"); dir != "" {
		screenshots(t, ctx, dir)
	}
	if p := probs.List(); len(p) > 0 {
		t.Fatalf("the dashboard reported problems:\n%s", strings.Join(p, "\n"))
	}
	var st struct{ Upstreams []json.RawMessage }
	_, body = request(t, "GET", p.url("/_clearway/status"), http.Header{"Authorization": {"Bearer " + newTok}}, "")
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Upstreams) != 2 {
		t.Fatalf("status with the new token: %v %s", err, body)
	}
}

// screenshots saves each page in light and dark into dir (docs/ when the
// README's pictures are refreshed: CLEARWAY_SCREENSHOTS=docs).
func screenshots(t *testing.T, ctx context.Context, dir string) {
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, tab := range []string{"overview", "requests", "usage", "settings"} {
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-"+tab)), chromedp.WaitVisible(chromedp.CSS("#"+tab))); err != nil {
				t.Fatal(err)
			}
			if tab == "usage" { // charts take the colours of the scheme when drawn
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.clearway.reloadUsage().then(() => true)`, chromedp.EvalAwaitPromise)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0); true`)); err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "dashboard-"+tab+"-"+scheme+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
