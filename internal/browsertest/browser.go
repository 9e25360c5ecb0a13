// Package browsertest drives Debian's real headless Chromium over the DevTools
// protocol (github.com/chromedp/chromedp) for the dashboard's tests, and
// collects what the page reports that a test must fail on: console errors,
// uncaught exceptions and Content-Security-Policy violations.
package browsertest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clearway/clearway/internal/desktoptest"
)

// Browser is one headless Chromium process with a fresh, empty profile. It
// stops when the test ends. Safe for concurrent use by the test's goroutines.
type Browser struct {
	ctx context.Context // the browser's own context; tabs derive from it
}

// Start launches Chromium (failing the test under CI=true when it is missing,
// skipping loudly otherwise), with the flags that keep it off the network: no
// background networking, no component updates, no sync, no QUIC.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin := desktoptest.Require(t, "chromium")["chromium"]
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return &Browser{ctx: bctx}
}

// Problems collects what a tab reported that no page of ours may produce.
// Safe for concurrent use.
type Problems struct {
	mu   sync.Mutex
	list []string
}

func (p *Problems) add(s string) {
	p.mu.Lock()
	p.list = append(p.list, s)
	p.mu.Unlock()
}

// List returns the problems seen so far.
func (p *Problems) List() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// Tab opens a new tab and returns its context (cancelled when the test ends
// or after timeout) and the problems it reports: console errors, exceptions,
// CSP violations and failed loads, each as one line.
func (b *Browser) Tab(t testing.TB, timeout time.Duration) (context.Context, *Problems) {
	t.Helper()
	tctx, cancelTab := chromedp.NewContext(b.ctx)
	ctx, cancel := context.WithTimeout(tctx, timeout)
	t.Cleanup(func() {
		cancel()
		cancelTab()
	})
	probs := &Problems{}
	msgs := chromedp.Console(ctx) // subscribes now, before any page loads
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() || m.Source == "security" || m.Source == "violation" {
				probs.add(m.String() + " (" + m.URL + ")")
			}
		}
	}()
	return ctx, probs
}

// Verbose says whether to print what the browser did (CLEARWAY_BROWSER_DEBUG=1).
func Verbose() bool { return os.Getenv("CLEARWAY_BROWSER_DEBUG") == "1" }
