package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestProblemsCatchCSPViolationsAndErrors proves the harness sees what the
// dashboard tests rely on it to see: a CSP-blocked inline script and a
// console error.
func TestProblemsCatchCSPViolationsAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/err.js" {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write([]byte(`console.error("boom from err.js"); document.body.dataset.done = "1";`))
			return
		}
		_, _ = w.Write([]byte(`<!doctype html><body><script>window.inline = 1</script><script src="/err.js"></script></body>`))
	}))
	t.Cleanup(srv.Close)
	b := Start(t)
	ctx, probs := b.Tab(t, 20*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitReady(chromedp.CSS(`body[data-done="1"]`))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all := strings.Join(probs.List(), "\n")
		if strings.Contains(all, "boom from err.js") && strings.Contains(all, "Content Security Policy") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the harness missed a CSP violation or a console error; it saw:\n%s", all)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
