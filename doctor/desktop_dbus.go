//go:build linux || freebsd || openbsd || netbsd

package doctor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"
)

// The bus names the desktop checks look for.
const (
	watcherName      = "org.kde.StatusNotifierWatcher"
	notificationName = "org.freedesktop.Notifications"
)

// checkDesktop: the session bus, the tray host and the notification server.
func checkDesktop(ctx context.Context, o *Options) []Result {
	bus := Result{Name: "session-bus"}
	tray := Result{Name: "tray-host"}
	notes := Result{Name: "notifications"}
	conn, where, err := connectBus(ctx, o)
	if err != nil {
		bus.Status, bus.Detail = Warn, err.Error()
		bus.Fix = "run clearway inside your desktop session (DBUS_SESSION_BUS_ADDRESS must point at its bus); without one clearway runs headless"
		tray.Status, tray.Detail = Warn, "no session bus, so no tray: clearway runs headless"
		tray.Fix = "nothing to do on a server (`clearway serve`); on a desktop, fix the session bus first"
		notes.Status, notes.Detail = Warn, "no session bus, so no desktop notifications"
		notes.Fix = "nothing to do on a server; on a desktop, fix the session bus first"
		return []Result{bus, tray, notes}
	}
	defer conn.Close()
	bus.Status, bus.Detail = OK, "connected to "+where

	owned, activatable, err := busNames(ctx, o, conn)
	if err != nil {
		bus.Status, bus.Detail = Warn, fmt.Sprintf("connected to %s, but it does not answer: %v", where, err)
		bus.Fix = "restart your desktop session"
	}
	switch {
	case owned[watcherName]:
		tray.Status, tray.Detail = OK, "a tray host owns "+watcherName+ownerName(ctx, o, conn, watcherName)
	case err != nil:
		tray.Status, tray.Detail, tray.Fix = Warn, "not checked: the bus does not answer", "restart your desktop session"
	default:
		tray.Status = Warn
		tray.Detail = "no tray host: nothing owns " + watcherName + ", so clearway runs headless (the proxy still works)"
		tray.Fix = "start a panel with a StatusNotifierItem tray (KDE, XFCE's systray plugin, waybar's tray)"
		if strings.Contains(strings.ToUpper(o.getenv("XDG_CURRENT_DESKTOP")), "GNOME") {
			tray.Detail = "GNOME shows no tray icons without the AppIndicator extension: nothing owns " + watcherName
			tray.Fix = "install and enable the AppIndicator extension (Debian/Ubuntu: gnome-shell-extension-appindicator), then log out and in"
		}
	}
	switch {
	case owned[notificationName]:
		notes.Status, notes.Detail = OK, "a notification server owns "+notificationName+serverInfo(ctx, o, conn)
	case activatable[notificationName]:
		notes.Status, notes.Detail = OK, notificationName+" is started on demand by the bus"
	case err != nil:
		notes.Status, notes.Detail, notes.Fix = Warn, "not checked: the bus does not answer", "restart your desktop session"
	default:
		notes.Status = Warn
		notes.Detail = "no notification server: nothing owns " + notificationName + " (retries and failures are not shown on the desktop)"
		notes.Fix = "install and start a notification daemon (dunst, mako, xfce4-notifyd), or ignore: clearway works without one"
	}
	return []Result{bus, tray, notes}
}

// connectBus connects privately to the session bus, without ever starting
// one (with DBUS_SESSION_BUS_ADDRESS unset it only tries $XDG_RUNTIME_DIR/bus,
// as the tray does). where names the address for the detail line.
func connectBus(ctx context.Context, o *Options) (*dbus.Conn, string, error) {
	addr := o.getenv("DBUS_SESSION_BUS_ADDRESS")
	where := "DBUS_SESSION_BUS_ADDRESS"
	if addr == "" {
		rt := o.getenv("XDG_RUNTIME_DIR")
		if rt == "" {
			return nil, "", errors.New("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS and XDG_RUNTIME_DIR are not set")
		}
		sock := filepath.Join(rt, "bus")
		if _, err := os.Stat(sock); err != nil {
			return nil, "", fmt.Errorf("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and %s does not exist", sock)
		}
		addr, where = "unix:path="+sock, sock
	}
	type res struct {
		c   *dbus.Conn
		err error
	}
	r, ok := withTimeout(ctx, o.timeout(), func() res {
		c, err := dbus.Dial(addr)
		if err == nil {
			if err = c.Auth(nil); err == nil {
				err = c.Hello()
			}
			if err != nil {
				c.Close()
			}
		}
		return res{c, err}
	})
	if !ok {
		return nil, "", fmt.Errorf("the D-Bus session bus at %s did not answer within %v", where, o.timeout())
	}
	if r.err != nil {
		return nil, "", fmt.Errorf("cannot connect to the D-Bus session bus at %s: %v", where, r.err)
	}
	return r.c, where, nil
}

// busNames lists the names owned on the bus and those it can activate.
func busNames(ctx context.Context, o *Options, conn *dbus.Conn) (owned, activatable map[string]bool, err error) {
	call := func(method string) (map[string]bool, error) {
		c, cancel := context.WithTimeout(ctx, o.timeout())
		defer cancel()
		var names []string
		if err := conn.BusObject().CallWithContext(c, "org.freedesktop.DBus."+method, 0).Store(&names); err != nil {
			return nil, err
		}
		m := make(map[string]bool, len(names))
		for _, n := range names {
			m[n] = true
		}
		return m, nil
	}
	if owned, err = call("ListNames"); err != nil {
		return nil, nil, err
	}
	activatable, _ = call("ListActivatableNames")
	return owned, activatable, nil
}

// ownerName returns " (program NAME, pid N)" for the owner of name, or "".
func ownerName(ctx context.Context, o *Options, conn *dbus.Conn, name string) string {
	c, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	var pid uint32
	if err := conn.BusObject().CallWithContext(c, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, name).Store(&pid); err != nil || pid == 0 {
		return ""
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return fmt.Sprintf(" (pid %d)", pid)
	}
	return fmt.Sprintf(" (%s, pid %d)", strings.TrimSpace(string(comm)), pid)
}

// serverInfo returns " (NAME VERSION)" from the notification server.
func serverInfo(ctx context.Context, o *Options, conn *dbus.Conn) string {
	c, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	var name, vendor, version, spec string
	err := conn.Object(notificationName, "/org/freedesktop/Notifications").
		CallWithContext(c, notificationName+".GetServerInformation", 0).Store(&name, &vendor, &version, &spec)
	if err != nil {
		return ""
	}
	return " (" + strings.Join(slices.DeleteFunc([]string{name, version}, func(s string) bool { return s == "" }), " ") + ")"
}
