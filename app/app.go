// Package app owns the running clearway application: its config and paths,
// the lock on the data folder, the cookie store and its saver, the key
// store and the refresh of which keys are set, the proxy server's lifecycle
// (one state machine, see Lifecycle), the user's preferences and the event
// bus. It computes the typed view.Snapshot that user interfaces show and
// performs the view.Actions they ask for.
//
// main parses commands and wires an App to the tray (or runs it headless);
// the tray and the dashboard use it; app never imports them, nor main.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/proxy/keychain"
	"github.com/clearway/clearway/proxy/ledger"
)

// Autostart is the start-at-login switch of the desktop (package tray has
// the implementations for Linux, Windows and macOS; main wires one in).
type Autostart interface {
	// Enabled reports whether clearway starts at login. It may read a file.
	Enabled() bool
	// Set turns start at login on or off.
	Set(on bool) error
}

// Options configure Open. Config is required; everything else has a
// working default.
type Options struct {
	Config  *config.Config
	Logger  *slog.Logger // nil: slog.Default()
	Paths   Paths        // zero: DefaultPaths()
	Keys    keychain.Store
	Version string // shown in the snapshot, the status endpoint and the instance file
	// Clock stamps lifecycle transitions; nil means the wall clock.
	Clock Clock
	// Autostart is the start-at-login switch; nil means none (always off,
	// and turning it on is an error).
	Autostart Autostart
	// Dashboard is the web dashboard (package dashboard's handler, which
	// main builds), wired into every proxy build; nil means none.
	Dashboard Dashboard
	// Build builds the proxy server for each start; nil builds the real
	// proxy (see App.BuildProxy). Unit tests pass a fake.
	Build Builder
	// BeforeBuild, when set, runs at the beginning of every build of the real
	// proxy, before the keychain is read. The end-to-end tests hold a start
	// there to click Stop while it is under way.
	BeforeBuild func()
	// CountersInterval is how often the live counters are compared while
	// the proxy runs (a new snapshot is computed only when they moved);
	// 0 means 2 s.
	CountersInterval time.Duration
}

// App is the running application. Open it, Close it once. Its methods are
// safe for concurrent use.
type App struct {
	cfg         *config.Config
	log         *slog.Logger
	paths       Paths
	version     string
	bus         *events.Bus
	keys        keychain.Store
	lock        *instance.Lock
	store       *cookiejar.Store
	ledger      *ledger.Ledger // nil: usage is not recorded
	dash        Dashboard      // the dashboard's pages and sessions (nil: none); they live as long as the App
	lc          *Lifecycle
	autostart   Autostart
	beforeBuild func()
	interval    time.Duration
	tokenNotice sync.Once // the token-file line is said once

	cancel   context.CancelFunc // ends the background goroutines
	wg       sync.WaitGroup
	dirty    chan struct{} // asks the watcher for a new snapshot (buffered, 1)
	keysKick chan struct{} // asks the key refresher for a pass (buffered, 1)
	closeMu  sync.Mutex
	closed   bool

	mu           sync.Mutex // guards the fields below
	prefs        prefs
	startAtLogin bool
	keyset       map[string]bool // key name -> set, as the keychain last said
	keyProblem   string          // "" or the keychain's last error, one line
	snap         view.Snapshot
	snapNext     chan struct{} // closed when snap is replaced
}

// Open takes the data folder's lock (instance.ErrRunning when another
// clearway holds it), opens the cookie store and starts its saver, reads the
// preferences and the start-at-login state, and starts refreshing which
// keys are set. The proxy is not started: call Start (tray) or Serve
// (headless).
func Open(opts Options) (*App, error) {
	if opts.Config == nil {
		return nil, errors.New("app: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Paths == (Paths{}) {
		opts.Paths = DefaultPaths()
	}
	if opts.Keys == nil {
		opts.Keys = OpenKeychain(opts.Logger)
	}
	if opts.Autostart == nil {
		opts.Autostart = noAutostart{}
	}
	if opts.CountersInterval <= 0 {
		opts.CountersInterval = 2 * time.Second
	}
	a := &App{
		cfg: opts.Config, log: opts.Logger, paths: opts.Paths, version: opts.Version,
		bus: &events.Bus{}, keys: opts.Keys, autostart: opts.Autostart, beforeBuild: opts.BeforeBuild,
		interval: opts.CountersInterval,
		dirty:    make(chan struct{}, 1), keysKick: make(chan struct{}, 1),
		keyset: map[string]bool{}, snapNext: make(chan struct{}),
	}
	lock, err := instance.Acquire(a.paths.Data, instance.Info{PID: os.Getpid(), Started: time.Now(), Version: a.version, ClientToken: a.cfg.ClientToken})
	if err != nil {
		return nil, err
	}
	a.lock = lock
	store, err := cookiejar.Open(cookiejar.Options{
		Path:      a.paths.Cookies,
		SaveDelay: a.cfg.SaveDelay,
		Logger:    a.log,
		OnSave: func(err error) {
			if err != nil {
				a.bus.Publish(events.Event{Kind: events.SaveFailed, Err: err.Error()})
				return
			}
			a.bus.Publish(events.Event{Kind: events.CookiesSaved})
		},
		OnChange: func(upstream string) {
			a.bus.Publish(events.Event{Kind: events.CookiesChanged, Upstream: upstream})
		},
	})
	if err != nil {
		_ = lock.Release()
		return nil, fmt.Errorf("cookie jars: %w", err)
	}
	a.store = store
	a.ledger = OpenLedger(a.cfg, UsagePath(a.paths.Data), a.log)
	a.dash = opts.Dashboard
	build := opts.Build
	if build == nil {
		build = a.BuildProxy
	}
	a.lc = NewLifecycle(build, opts.Clock)
	a.prefs = loadPrefs(a.paths.Prefs, a.log)
	a.startAtLogin = a.autostart.Enabled()
	a.snap, _ = a.compute()

	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	events, unsubscribe := a.bus.Subscribe(eventBuffer)
	a.wg.Add(3)
	go func() { defer a.wg.Done(); a.store.Run(ctx) }()
	go func() { defer a.wg.Done(); a.refreshKeys(ctx) }()
	go func() { defer a.wg.Done(); defer unsubscribe(); a.watch(ctx, events) }()
	if a.ledger != nil {
		// The ledger opens its database after start: show today's usage
		// once it has read it.
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			select {
			case <-a.ledger.Ready():
				a.markDirty()
			case <-ctx.Done():
			}
		}()
	}
	a.kickKeys()
	return a, nil
}

// eventBuffer is how many events the snapshot watcher's subscription holds.
const eventBuffer = 256

// Close stops the proxy (waiting for it), stops the background work, saves
// the cookie jars and releases the data folder's lock. Calls after the
// first return nil.
func (a *App) Close() error {
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	_ = a.lc.Close()
	a.cancel()
	a.wg.Wait()
	if a.ledger != nil {
		if lerr := a.ledger.Close(); lerr != nil {
			a.log.Warn("usage ledger: closing", "err", lerr)
		}
	}
	err := a.store.Close()
	if err != nil {
		a.log.Warn("could not save cookies on exit", "err", err)
	}
	if rerr := a.lock.Release(); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// Config is the configuration the app runs with. The caller must not modify it.
func (a *App) Config() *config.Config { return a.cfg }

// Logger is the app's logger.
func (a *App) Logger() *slog.Logger { return a.log }

// Paths are the files the app uses.
func (a *App) Paths() Paths { return a.paths }

// Bus is where the proxy's and the app's events go.
func (a *App) Bus() *events.Bus { return a.bus }

// Keys is the key store.
func (a *App) Keys() keychain.Store { return a.keys }

// Cookies is the persistent cookie store the proxy's sessions use.
func (a *App) Cookies() *cookiejar.Store { return a.store }

// Lifecycle is the proxy server's state machine.
func (a *App) Lifecycle() *Lifecycle { return a.lc }

// Events subscribes to the event bus (see events.Bus.Subscribe): a channel
// holding up to buffer events, and the function that ends the subscription.
func (a *App) Events(buffer int) (<-chan events.Event, func()) { return a.bus.Subscribe(buffer) }

// noAutostart is the Autostart of a desktop without one.
type noAutostart struct{}

func (noAutostart) Enabled() bool { return false }
func (noAutostart) Set(on bool) error {
	if on {
		return errors.New("start at login is not available here")
	}
	return nil
}

// WithCookies runs fn on the cookie file at paths.Cookies while holding the
// data folder's lock, then saves: how commands change the jars when no
// clearway runs. It returns instance.ErrRunning (wrapped) when one does.
func WithCookies(cfg *config.Config, paths Paths, fn func(*cookiejar.Store)) error {
	lock, err := instance.Acquire(paths.Data, instance.Info{PID: os.Getpid(), Started: time.Now()})
	if err != nil {
		return err
	}
	defer lock.Release()
	store, err := cookiejar.Open(cookiejar.Options{Path: paths.Cookies, SaveDelay: cfg.SaveDelay})
	if err != nil {
		return err
	}
	fn(store)
	return store.Close()
}
