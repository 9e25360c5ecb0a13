package tray

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/health"
)

// helperEnv switches the test binary into a helper process that runs the
// tray (fyne systray allows one Run per process, so each tray test runs its
// own). "1" runs the test app; "demo" the same with a lively state, for the
// README screenshot (build/screenshot.sh).
const helperEnv = "CLEARWAY_TRAY_HELPER"

// helperToken is the helper app's client token.
const helperToken = "cw_helpertoken_5f0e1d2c3b4a59687766554433221100"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode))
	}
	os.Exit(m.Run())
}

// helperMain runs the tray over a helperApp until Quit, a signal, or the
// parent's death, and returns the exit code.
func helperMain(mode string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app := newHelperApp(mode == "demo")
	if err := app.Start(); err != nil {
		logger.Error("helper: start", "err", err)
		return 1
	}
	if err := Available(); err != nil {
		logger.Error("helper: no tray", "err", err)
		return 3
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGHUP)
	defer cancel()
	quit := false
	err := Run(ctx, app, Options{Logger: logger, OnQuit: func() { quit = true }, Diagnose: helperDiagnose})
	_ = app.Stop()
	if err != nil {
		logger.Error("helper: run", "err", err)
		return 1
	}
	fmt.Printf("helper: tray returned, quit clicked: %v\n", quit)
	return 0
}

// helperReport is what the helper's Diagnose returns as the full report.
const helperReport = "✓ config  fine\n✗ port    127.0.0.1:8764 is in use by another program: pid 4242 (nginx)\n          fix: stop that program\n! tray    none\n1 ok, 1 warning, 1 failed\n"

func helperDiagnose(context.Context) (string, string, []string) {
	return helperReport, "1 ok, 1 warning, 1 failed",
		[]string{"✗ port: 127.0.0.1:8764 is in use by another program: pid 4242 (nginx)", "! tray: none"}
}

// helperApp is a real, small app for the helper process: Start and Stop
// really open and close a loopback HTTP listener, ClearCookies empties a
// real counter, keys live in memory. Its HTTP server also lets the parent
// test observe the app and make it publish events:
//
//	GET /                       "ok"
//	GET /_cookies?upstream=U    the cookie count
//	GET /_keys                  "name=len:sha256-prefix" lines (never the key)
//	GET /_publish?kind=K&n=N&upstream=U&attempt=A
//	                            publishes N events of kind K
type helperApp struct {
	bus  events.Bus
	next chan struct{} // closed when s is replaced

	mu      sync.Mutex
	s       view.Snapshot
	srv     *http.Server
	cookies map[string]int
	keys    map[string]string
}

func newHelperApp(demo bool) *helperApp {
	c := &helperApp{
		next:    make(chan struct{}),
		cookies: map[string]int{"anthropic": 3, "openai": 0},
		keys:    map[string]string{"anthropic": "sk-ant-helper-0000000000"},
	}
	c.s = view.Snapshot{
		Version:       "0.0.0-test",
		Notifications: true,
		StartAtLogin:  StartAtLogin(),
		ConfigPath:    "/nonexistent/clearway/config.yaml",
		LogDir:        os.TempDir(),
		Upstreams: []view.Upstream{
			{Name: "anthropic", URL: "https://api.anthropic.com", Health: health.OK},
			{Name: "openai", URL: "https://api.openai.com"},
		},
	}
	if demo {
		c.cookies["openai"] = 2
		c.keys["supermemory"] = "sm-demo-0000000000"
		c.s.Upstreams = []view.Upstream{
			{Name: "anthropic", URL: "https://api.anthropic.com", Health: health.OK, Requests: 214, Retries: 9, InFlight: 1, LastStatus: 200},
			{Name: "openai", URL: "https://api.openai.com", Health: health.Retrying, Requests: 37, Retries: 12, InFlight: 2, LastStatus: 429},
			{Name: "supermemory", URL: "https://api.supermemory.ai/v3/https://api.anthropic.com", Health: health.OK, Requests: 58, Retries: 0, LastStatus: 200},
		}
		c.cookies["supermemory"] = 2
	}
	if demo {
		c.s.Addr = "127.0.0.1:8764" // the default, for the screenshot; Start falls back to any port
	}
	c.refreshLocked()
	return c
}

// refreshLocked recomputes the derived parts of the state and signals a change.
func (c *helperApp) refreshLocked() {
	ups := make([]view.Upstream, len(c.s.Upstreams))
	copy(ups, c.s.Upstreams)
	for i := range ups {
		ups[i].Cookies = c.cookies[ups[i].Name]
	}
	c.s.Upstreams = ups
	names := []string{"anthropic", "openai"}
	for n := range c.keys {
		if n != "anthropic" && n != "openai" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	keys := make([]view.Key, 0, len(names))
	for _, n := range names {
		used := []string{n}
		if n == "anthropic" && len(ups) > 2 {
			used = []string{"anthropic", "supermemory"}
		}
		_, set := c.keys[n]
		keys = append(keys, view.Key{Name: n, Set: set, UsedBy: used})
	}
	c.s.Keys = keys
	close(c.next)
	c.next = make(chan struct{})
}

func (c *helperApp) Snapshot() (view.Snapshot, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s, c.next
}

func (c *helperApp) Events(n int) (<-chan events.Event, func()) { return c.bus.Subscribe(n) }

func (c *helperApp) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		return nil
	}
	addr := c.s.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && addr == "127.0.0.1:8764" {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("helper: listen: %w", err)
	}
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(c.srv)
	c.s.Phase = view.Running
	c.s.Addr = ln.Addr().String()
	c.s.BaseURL = "http://" + c.s.Addr
	c.bus.Publish(events.Event{Kind: events.Listening, Addr: c.s.Addr})
	c.refreshLocked()
	return nil
}

func (c *helperApp) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv == nil {
		return nil
	}
	err := c.srv.Close()
	c.srv = nil
	c.s.Phase = view.Stopped
	c.bus.Publish(events.Event{Kind: events.Stopped})
	c.refreshLocked()
	return err
}

func (c *helperApp) ClearCookies(upstream string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cookies[upstream]; !ok {
		return fmt.Errorf("helper: no upstream %q", upstream)
	}
	c.cookies[upstream] = 0
	c.refreshLocked()
	return nil
}

func (c *helperApp) SetKey(name, secret string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[name] = secret
	c.refreshLocked()
	return nil
}

func (c *helperApp) DeleteKey(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, name)
	c.refreshLocked()
	return nil
}

func (c *helperApp) ClientToken() (string, error) { return helperToken, nil }

func (c *helperApp) DashboardURL() (string, error) {
	return "http://127.0.0.1:1/_clearway/ui/login?code=helper", nil
}

func (c *helperApp) SetPreference(name view.Pref, on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch name {
	case view.Notifications:
		c.s.Notifications = on
	case view.StartAtLogin:
		if err := SetStartAtLogin(on, ""); err != nil {
			return err
		}
		c.s.StartAtLogin = StartAtLogin()
	default:
		return errors.New("helper: unknown preference " + name.String())
	}
	c.refreshLocked()
	return nil
}

func (c *helperApp) serveHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/":
		fmt.Fprint(w, "ok")
	case "/_cookies":
		c.mu.Lock()
		n := c.cookies[q.Get("upstream")]
		c.mu.Unlock()
		fmt.Fprint(w, n)
	case "/_keys":
		c.mu.Lock()
		var lines []string
		for name, k := range c.keys {
			sum := sha256.Sum256([]byte(k))
			lines = append(lines, fmt.Sprintf("%s=%d:%s", name, len(k), hex.EncodeToString(sum[:4])))
		}
		c.mu.Unlock()
		sort.Strings(lines)
		fmt.Fprint(w, strings.Join(lines, "\n"))
	case "/_publish":
		n, _ := strconv.Atoi(q.Get("n"))
		attempt, _ := strconv.Atoi(q.Get("attempt"))
		kind := map[string]events.Kind{"retrying": events.Retrying, "recovered": events.Recovered, "gave_up": events.GaveUp}[q.Get("kind")]
		for i := 0; i < max(n, 1); i++ {
			c.bus.Publish(events.Event{Kind: kind, Upstream: q.Get("upstream"), Attempt: attempt + i%3, MaxAttempts: 4,
				Status: 429, Reason: "cloudflare 1015", Delay: time.Second})
		}
		fmt.Fprint(w, "published")
	default:
		http.NotFound(w, r)
	}
}
