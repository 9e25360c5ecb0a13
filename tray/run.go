//go:build !darwin || cgo

package tray

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"fyne.io/systray"
)

// Options tunes Run. The zero value is ready to use.
type Options struct {
	// OnQuit is called when the user clicks Quit, before Run returns. It
	// should return quickly; stop the proxy after Run returns.
	OnQuit func()
	// Logger receives the tray's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Clipboard is the clipboard the copy and "Set from clipboard" actions
	// use; nil means the system clipboard (on Linux through xclip, xsel or
	// wl-clipboard).
	Clipboard Clipboard
	// OpenPath opens a file or folder in the user's default application;
	// nil means xdg-open, open or rundll32 depending on the system.
	OpenPath func(path string) error
	// Diagnose runs clearway's checks (`clearway doctor`) for the "Run
	// diagnostics" item: report is the whole text (it goes on the
	// clipboard), summary one line such as "12 ok, 2 warnings, 1 failed",
	// and problems the lines of the checks that are not ok, worst first.
	// None may hold a secret. nil makes the item say diagnostics are not
	// available.
	Diagnose func(ctx context.Context) (report, summary string, problems []string)
	// NoNotifications turns desktop notifications of proxy events off
	// whatever the snapshot's Notifications says (for main's own tests).
	NoNotifications bool
}

// ranOnce makes sure Run runs once per process: fyne systray keeps global
// state and cannot start again after it quit.
var ranOnce atomic.Bool

// ErrAlreadyRan is returned by Run when called a second time in one process.
var ErrAlreadyRan = errors.New("tray: Run was already called in this process; systray runs once per process")

// Run shows clearway's tray icon and menu for app and blocks until ctx is
// cancelled, the user clicks Quit (after opts.OnQuit), or the process gets
// SIGINT or SIGTERM. It also shows desktop notifications for the app's
// events (see Notify). It does not start or stop the proxy itself: main
// starts the proxy before and stops it after.
//
// Call Available first: without a session bus, systray would block forever.
// On macOS Run must be called from the main goroutine. Run may be called
// once per process; a second call returns ErrAlreadyRan.
func Run(ctx context.Context, app App, opts Options) error {
	if !ranOnce.CompareAndSwap(false, true) {
		return ErrAlreadyRan
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clipboard == nil {
		opts.Clipboard = systemClipboard{}
	}
	if opts.OpenPath == nil {
		opts.OpenPath = openPath
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	m := newMenu(ctx, app, opts)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		m.cancelEvents()
		_ = m.notes.send.Close()
	}()

	// systray does not handle signals; quit cleanly on them, and when ctx ends.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case sig := <-sigs:
			opts.Logger.Info("tray: quitting on signal", "signal", sig.String())
		case <-ctx.Done():
		}
		systray.Quit()
	}()

	// The title set before Run becomes the StatusNotifierItem's Id.
	systray.SetTitle("clearway")
	systray.Run(func() {
		wg.Add(2)
		go func() { defer wg.Done(); m.watch() }()
		go func() {
			defer wg.Done()
			if !opts.NoNotifications {
				m.notes.run(ctx, m.events)
			}
		}()
	}, func() {
		cancel()
	})
	return nil
}

// minApplyInterval spaces out menu updates: under load the app may have a
// new snapshot with every request, and the panel need not redraw that often.
const minApplyInterval = 250 * time.Millisecond

// watch applies the app's snapshot to the tray now and whenever a newer one
// exists, until the tray's context ends.
func (m *menu) watch() {
	s, next := m.app.Snapshot()
	m.apply(s)
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-next:
		case <-m.kick:
		}
		s, next = m.app.Snapshot()
		m.apply(s)
		t := time.NewTimer(minApplyInterval)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// quit is the Quit action.
func (m *menu) quit() {
	if m.opts.OnQuit != nil {
		m.opts.OnQuit()
	}
	systray.Quit()
}
