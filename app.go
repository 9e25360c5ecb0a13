package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/clearway/clearway/internal/atomicfile"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/keychain"
	"github.com/clearway/clearway/proxy/keypool"
	"github.com/clearway/clearway/tray"
)

// cmdApp is `clearway` with no arguments: the tray and the proxy, or the proxy
// alone when there is no tray to show.
func cmdApp(stdout, stderr io.Writer) error {
	cfg, err := config.Load("")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := tray.Available(); err != nil {
		fmt.Fprintf(stderr, "clearway: no tray available (%v); running headless on %s\n", err, cfg.Listen)
		return serveHeadless(ctx, cfg, stderr, true)
	}
	log, closeLog, err := newLogger(stderr, cfg.LogLevel, true)
	if err != nil {
		return err
	}
	defer closeLog()
	bus := &events.Bus{}
	rt, err := openRuntime(cfg, log, bus)
	if err != nil {
		return err
	}
	defer rt.close()
	core := newAppCore(rt)
	saverCtx, stopSaver := context.WithCancel(context.Background())
	saverDone := make(chan struct{})
	go func() { rt.store.Run(saverCtx); close(saverDone) }()
	defer func() { stopSaver(); <-saverDone }()
	go core.watch(ctx)
	if err := core.Start(); err != nil {
		log.Warn("the proxy did not start; the tray shows why", "err", err)
	}
	err = tray.Run(ctx, core, tray.Options{Logger: log})
	_ = core.Stop()
	return err
}

// preferences are the tray's switches, kept in prefsPath().
type preferences struct {
	Notifications bool `json:"notifications"`
}

// appCore runs the proxy for the tray: start, stop and restart it, and give
// the tray snapshots of its state. Safe for concurrent use.
type appCore struct {
	rt      *proxyRuntime
	changed chan struct{}

	mu       sync.Mutex
	srv      *proxy.Server      // the serving proxy; nil when stopped
	cancel   context.CancelFunc // stops srv
	stopped  chan struct{}      // closed once srv's Run has returned
	starting bool               // a Start is building a server (outside the lock)
	problem  string
	prefs    preferences
	keyset   map[string]bool
}

func newAppCore(rt *proxyRuntime) *appCore {
	c := &appCore{rt: rt, changed: make(chan struct{}, 1), prefs: loadPrefs(), keyset: map[string]bool{}}
	go c.refreshKeys()
	return c
}

// watch signals Changed on every core event and, while serving, every 2 s so
// counters stay fresh.
func (c *appCore) watch(ctx context.Context) {
	ch, cancel := c.rt.bus.Subscribe(256)
	defer cancel()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var last tray.State
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-ch:
			if e.Kind == events.PortInUse {
				c.setProblem(fmt.Sprintf("Port %s is in use", portOfAddr(e.Addr)))
			}
			c.signal()
		case <-tick.C:
			// Counters move with every request; tell the tray only when the
			// snapshot really differs, so the menu is not rebuilt for nothing.
			if now := c.State(); !reflect.DeepEqual(now, last) {
				last = now
				c.signal()
			}
		}
	}
}

func (c *appCore) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *appCore) setProblem(p string) {
	c.mu.Lock()
	c.problem = p
	c.mu.Unlock()
	c.signal()
}

// Changed implements tray.Core.
func (c *appCore) Changed() <-chan struct{} { return c.changed }

// Events implements tray.Core.
func (c *appCore) Events(buffer int) (<-chan events.Event, func()) { return c.rt.bus.Subscribe(buffer) }

// Start implements tray.Core: it builds a fresh server (new sessions reuse the
// same persistent jars) and waits until it serves or fails. The slow part
// (reading the keychain, listening) runs outside the lock, so State never
// waits on it.
func (c *appCore) Start() error {
	c.mu.Lock()
	if c.srv != nil || c.starting {
		c.mu.Unlock()
		return nil
	}
	c.starting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.starting = false
		c.mu.Unlock()
		c.signal()
	}()

	srv, err := c.rt.newServer()
	if err != nil {
		c.setProblem(oneLine(err))
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 1) // Run's error, read only by the select below
	stopped := make(chan struct{})
	go func() {
		err := c.rt.serve(ctx, srv)
		c.mu.Lock()
		if c.srv == srv { // stopped by itself, not by Stop
			c.srv, c.cancel, c.stopped = nil, nil, nil
			if err != nil {
				c.problem = oneLine(err)
			}
		}
		c.mu.Unlock()
		failed <- err
		close(stopped)
		c.signal()
	}()
	select {
	case <-srv.Ready():
		c.mu.Lock()
		select {
		case <-stopped: // it already ended; the goroutine above said why
			cancel()
		default:
			c.srv, c.cancel, c.stopped, c.problem = srv, cancel, stopped, ""
		}
		c.mu.Unlock()
		return nil
	case err := <-failed:
		cancel()
		if errors.Is(err, proxy.ErrPortInUse) {
			c.setProblem(fmt.Sprintf("Port %s is in use", portOfAddr(c.rt.cfg.Listen)))
		} else if err != nil {
			c.setProblem(oneLine(err))
		}
		return err
	}
}

// Stop implements tray.Core: graceful shutdown, waiting for it to finish.
func (c *appCore) Stop() error {
	c.mu.Lock()
	cancel, stopped := c.cancel, c.stopped
	c.srv, c.cancel, c.stopped = nil, nil, nil
	c.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-stopped
	c.signal()
	return nil
}

// ClearCookies implements tray.Core.
func (c *appCore) ClearCookies(upstream string) error {
	proxy.ClearCookies(c.rt.store, upstreamNames(c.rt.cfg), upstream)
	err := c.rt.store.Flush()
	c.signal()
	return err
}

// SetKey implements tray.Core.
func (c *appCore) SetKey(name, secret string) error {
	if err := keychain.ValidName(name); err != nil {
		return err
	}
	if err := c.rt.keys.Set(name, secret); err != nil {
		return err
	}
	c.afterKeyChange()
	return nil
}

// DeleteKey implements tray.Core.
func (c *appCore) DeleteKey(name string) error {
	if err := c.rt.keys.Delete(name); err != nil && !errors.Is(err, keychain.ErrNotFound) {
		return err
	}
	c.afterKeyChange()
	return nil
}

func (c *appCore) afterKeyChange() {
	c.mu.Lock()
	srv := c.srv
	c.mu.Unlock()
	if srv != nil {
		_ = srv.ReloadKeys()
	}
	c.refreshKeys()
}

// refreshKeys asks the keychain which keys are set (slow: off the tray's path).
func (c *appCore) refreshKeys() {
	set := map[string]bool{}
	var kerr error
	for name := range keyUsers(c.rt.cfg) {
		_, err := c.rt.keys.Get(name)
		set[name] = err == nil
		if err != nil && !errors.Is(err, keychain.ErrNotFound) && kerr == nil {
			kerr = err
		}
	}
	c.mu.Lock()
	c.keyset = set
	if kerr != nil && c.problem == "" {
		c.problem = "Keychain: " + oneLine(kerr)
	}
	c.mu.Unlock()
	c.signal()
}

// ClientToken implements tray.Core.
func (c *appCore) ClientToken() (string, error) {
	tok, _, err := keychain.ClientToken(c.rt.keys)
	return tok, err
}

// SetPreference implements tray.Core.
func (c *appCore) SetPreference(name string, on bool) error {
	switch name {
	case tray.PrefNotifications:
		c.mu.Lock()
		c.prefs.Notifications = on
		p := c.prefs
		c.mu.Unlock()
		if err := savePrefs(p); err != nil {
			return err
		}
	case tray.PrefStartAtLogin:
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		if err := tray.SetStartAtLogin(on, exe); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown preference %q", name)
	}
	c.signal()
	return nil
}

// State implements tray.Core.
func (c *appCore) State() tray.State {
	c.mu.Lock()
	srv, problem, prefs := c.srv, c.problem, c.prefs
	keyset := make(map[string]bool, len(c.keyset))
	for k, v := range c.keyset {
		keyset[k] = v
	}
	c.mu.Unlock()
	cfg := c.rt.cfg
	s := tray.State{
		Version:       shortVersion(),
		Addr:          cfg.Listen,
		BaseURL:       "http://" + cfg.Listen,
		Problem:       problem,
		Notifications: prefs.Notifications,
		StartAtLogin:  tray.StartAtLogin(),
		ConfigPath:    config.Path(),
		LogDir:        logDir(),
	}
	pool := map[string]string{} // key name -> its pool state when not ready
	if srv != nil {
		st := srv.Status()
		s.Running = true
		s.Addr = st.Addr
		s.BaseURL = "http://" + st.Addr
		for _, u := range st.Upstreams {
			s.Upstreams = append(s.Upstreams, tray.UpstreamState{
				Name: u.Name, URL: u.URL, Health: trayHealth(u.State), Requests: u.Requests, Retries: u.Retries,
				InFlight: int(u.InFlight), Cookies: u.CookieCount, LastStatus: u.LastStatus,
				Circuit: u.Breaker, Fallbacks: u.Fallbacks,
			})
			for _, k := range u.KeyPool {
				if p := poolNote(k); p != "" && pool[k.Name] == "" {
					pool[k.Name] = p
				}
			}
		}
		for k, v := range st.Keys {
			keyset[k] = v
		}
	} else {
		for _, u := range cfg.Upstreams {
			s.Upstreams = append(s.Upstreams, tray.UpstreamState{Name: u.Name, URL: u.URL.String(), Cookies: c.rt.store.Jar(u.Name).Len()})
		}
	}
	users := keyUsers(cfg)
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.Keys = append(s.Keys, tray.KeyState{Name: n, Set: keyset[n], UsedBy: users[n], Pool: pool[n]})
	}
	return s
}

// poolNote is a pool key's state for the tray: "" when ready, else
// "cooling until 14:03:10" or "refused: 401".
func poolNote(k keypool.KeyStatus) string {
	switch {
	case k.State == keypool.StateRefused:
		return "refused: " + k.Why
	case k.State == keypool.StateCooling && k.Until != nil:
		return "cooling until " + k.Until.Local().Format(time.TimeOnly)
	}
	return ""
}

func trayHealth(h health.Health) tray.Health {
	switch h {
	case health.OK:
		return tray.HealthOK
	case health.Retrying:
		return tray.HealthRetrying
	case health.Failing:
		return tray.HealthFailing
	default:
		return tray.HealthIdle
	}
}

func upstreamNames(cfg *config.Config) []string {
	out := make([]string, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		out = append(out, u.Name)
	}
	return out
}

func portOfAddr(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}

// oneLine keeps the first line of an error for the tray's status line.
func oneLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

func loadPrefs() preferences {
	p := preferences{Notifications: true}
	b, err := os.ReadFile(prefsPath())
	if err != nil {
		return p
	}
	if err := json.Unmarshal(b, &p); err != nil {
		slog.Warn("preferences file unreadable; using defaults", "file", prefsPath(), "err", err)
		return preferences{Notifications: true}
	}
	return p
}

func savePrefs(p preferences) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepathDir(prefsPath()), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(prefsPath(), append(b, '\n'), 0o600)
}
