package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clearway/clearway/internal/browsertest"
)

// TestPageRendersEveryTabWithoutProblems loads the real page in headless
// Chromium against canned admin-API answers in the shapes the proxy sends, and
// fails on any console error, exception or CSP violation. The end-to-end test
// against the real binary lives in the repository root.
func TestPageRendersEveryTabWithoutProblems(t *testing.T) {
	a := NewAuth(nil)
	h, err := New(Options{Auth: a, Version: "v-test"})
	if err != nil {
		t.Fatal(err)
	}
	reset := time.Now().Add(90 * time.Second).UTC().Format(time.RFC3339)
	today, yesterday := time.Now().Format("2006-01-02"), time.Now().AddDate(0, 0, -1).Format("2006-01-02")
	api := map[string]string{
		"/_clearway/status": `{"version":"v-test","addr":"127.0.0.1:1","keys":{"anthropic":true},"upstreams":[
			{"name":"anthropic","state":"ok","requests":3,"retries":1,"failures":0,"in_flight":0,"queue_length":0,
			 "user_agent":"claude-cli/2.1.0","key":"anthropic","cookie_count":1,
			 "key_pool":[{"name":"anthropic","state":"ready"},{"name":"anthropic-2","state":"cooling","until":"` + reset + `","why":"429"},{"name":"anthropic-3","state":"refused","why":"401"}],
			 "cookies":[{"name":"cf_clearance","domain":"x","path":"/","expires":"` + reset + `"}],
			 "rate_limits":[{"name":"tokens","limit":40000,"remaining":38000,"reset":"` + reset + `"}]}],
			"shared":{"state":"degraded","why":"Redis unreachable: connection refused","namespace":"acme","instances":[]}}`,
		"/_clearway/requests": `{"requests":[{"id":7,"time":"` + reset + `","client":"claude-code","upstream":"anthropic","model":"claude-sonnet-4-5",
			"status":200,"attempts":2,"duration_ms":412,"input_tokens":1200,"output_tokens":300,
			"attempt_log":[{"n":1,"status":429,"reason":"cloudflare 1015","wait_ms":1000,"wait_why":"retry-after","cookies":0},{"n":2,"status":200,"cookies":1}]}]}`,
		"/_clearway/usage":    `{"rows":[{"day":"` + yesterday + `","model":"claude-sonnet-4-5","client":"claude-code","requests":2,"input_tokens":100,"output_tokens":50,"cost_usd":0.01},{"day":"` + today + `","model":"claude-sonnet-4-5","client":"claude-code","requests":1,"input_tokens":1000,"output_tokens":300,"cost_usd":0.1}],"prices_date":"2026-11-01"}`,
		"/_clearway/settings": `{"notifications":true,"autostart":false,"config_path":"/tmp/config.yaml","config_check":"ok"}`,
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, h)
	mux.HandleFunc("/_clearway/", func(w http.ResponseWriter, r *http.Request) {
		if h.Authorize(r) != Allowed {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/_clearway/events" {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			_, _ = w.Write([]byte("event: request\ndata: " + `{"id":8,"upstream":"anthropic","status":200,"attempts":1}` + "\n\n"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		body, ok := api[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // after the browser's cleanups (LIFO), so the event stream has ended

	b := browsertest.Start(t)
	ctx, probs := b.Tab(t, 30*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+Prefix+"login?code="+a.MintCode()),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
	); err != nil {
		t.Fatal(err)
	}
	meter, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-limit="tokens"] [role=meter]').getAttribute('aria-valuenow')`))
	if err != nil || meter != "38000" {
		t.Fatalf("headroom meter: %q, %v", meter, err)
	}
	// Each pool key by name and state (the status API's key_pool).
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil || !strings.Contains(text, "anthropic-2: cooling until") || !strings.Contains(text, "anthropic-3: refused (401)") {
		t.Fatalf("the key pool is not shown (%v): %s", err, text)
	}
	summary, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#summary').textContent`))
	if err != nil || !strings.Contains(summary, "shared: degraded (Redis unreachable: connection refused)") {
		t.Fatalf("summary %q does not say the team's limits are not shared (%v)", summary, err)
	}
	// The live event arrives without a reload.
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#req-table tr[data-id="8"]`))); err != nil {
		t.Fatal(err)
	}
	for _, tab := range []string{"requests", "usage", "settings", "overview"} {
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#tab-"+tab)), chromedp.WaitVisible(chromedp.CSS("#"+tab))); err != nil {
			t.Fatalf("tab %s: %v", tab, err)
		}
		if tab == "usage" {
			if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#chart-model canvas`))); err != nil {
				t.Fatal(err)
			}
			raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.clearwayCharts["chart-model"].raw[0].slice(-3))`))
			if err != nil || raw != "[0,150,1300]" {
				t.Fatalf("chart data %s, %v", raw, err)
			}
		}
	}
	if p := probs.List(); len(p) > 0 {
		t.Fatalf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}
