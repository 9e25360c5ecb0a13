//go:build linux || freebsd || openbsd || netbsd

package tray

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/godbus/dbus/v5"
)

// watcherName is the bus name of the desktop's tray host.
const watcherName = "org.kde.StatusNotifierWatcher"

// hostWait is how long Available waits for a tray host to appear: at login
// the app may start a moment before the panel.
const hostWait = 5 * time.Second

// Available reports, as a one-line error, why the tray cannot be shown: no
// D-Bus session bus, or no tray host (nothing owns
// org.kde.StatusNotifierWatcher within a few seconds). nil means Run can
// show the tray. Main runs headless when it is not nil. It never starts a
// bus: with DBUS_SESSION_BUS_ADDRESS unset it looks only for
// $XDG_RUNTIME_DIR/bus.
func Available() error {
	return available(hostWait)
}

func available(wait time.Duration) error {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		rt := os.Getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are not set)")
		}
		if _, err := os.Stat(filepath.Join(rt, "bus")); err != nil {
			return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and " + filepath.Join(rt, "bus") + " does not exist)")
		}
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("cannot connect to the D-Bus session bus: %w", err)
	}
	defer conn.Close()
	if err := conn.AddMatchSignal(
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, watcherName),
	); err != nil {
		return fmt.Errorf("cannot watch the D-Bus session bus: %w", err)
	}
	sigs := make(chan *dbus.Signal, 4)
	conn.Signal(sigs)
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has); err != nil {
		return fmt.Errorf("cannot query the D-Bus session bus: %w", err)
	}
	if has {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		select {
		case sig := <-sigs:
			if sig != nil && len(sig.Body) == 3 {
				if owner, _ := sig.Body[2].(string); owner != "" {
					return nil
				}
			}
		case <-ctx.Done():
			return errors.New("no system tray on this desktop (nothing owns " + watcherName + "; on GNOME, install the AppIndicator extension)")
		}
	}
}
