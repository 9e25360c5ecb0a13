// Package tray is clearway's system-tray user interface: the icon that shows
// what the proxy is doing, its menu (status, Start/Stop, copy-ready client
// setup, upstreams with their cookies, API keys, preferences, Quit), desktop
// notifications about retries and problems, and start at login.
//
// It talks to the application only through the App interface (a typed
// view.Snapshot, the event stream and view.Actions), which package app
// implements; the proxy never imports this package. The tray
// uses fyne.io/systray: on Linux a StatusNotifierItem with a
// com.canonical.dbusmenu menu over the session bus (no cgo), on Windows the
// notification area, on macOS the menu bar (cgo).
//
// The menu is rebuilt from an immutable view.Snapshot whenever the app
// has a newer one (updated in place when only labels and check marks
// changed); pure functions decide every label, the tooltip and the icon.
// Click handlers return at once and do the work on their own goroutine.
//
// Typical use in main:
//
//	if err := tray.Available(); err != nil {
//		fmt.Fprintln(os.Stderr, "clearway: no tray:", err, "- running headless")
//		// serve headless
//	}
//	err := tray.Run(ctx, a, tray.Options{OnQuit: cancel})
//
// The tray/traytest package drives the tray over D-Bus like a panel does,
// for tests.
package tray
