package desktoptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// busConfig is a session bus configuration that starts nothing by itself
// (its only service folder is empty) and lets any client own any name and
// call anything.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>%s</listen>
  <servicedir>%s</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Bus is a private D-Bus session bus run by dbus-daemon for one test. Its
// zero value is not usable: create one with StartBus. Its methods are safe
// for concurrent use.
type Bus struct {
	// Addr is the bus address, e.g. "unix:path=/tmp/TestX123/001/bus".
	Addr string
	// Dir is the folder holding the socket, the configuration and the
	// (empty) service folder.
	Dir string

	proc *process
}

// StartBus starts a private dbus-daemon whose service folder is empty, so
// nothing is D-Bus-activated behind the test's back. It sets
// DBUS_SESSION_BUS_ADDRESS with t.Setenv and stops the daemon in t.Cleanup.
//
// The cleanup also waits until godbus's shared session connection
// (dbus.SessionBus, which go-keyring and fyne systray use) has noticed the bus
// is gone, so the next test's bus is the one the process talks to.
func StartBus(t testing.TB) *Bus {
	t.Helper()
	bin := Require(t, "dbus-daemon")["dbus-daemon"]

	dir := shortTempDir(t)
	servicesDir := filepath.Join(dir, "services")
	if err := os.Mkdir(servicesDir, 0o700); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	addr := "unix:path=" + filepath.Join(dir, "bus")
	configPath := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(configPath, fmt.Appendf(nil, busConfig, addr, servicesDir), 0o600); err != nil {
		t.Fatalf("desktoptest: write bus config: %v", err)
	}
	// Set the address before starting, so its restore runs after the stop
	// cleanup registered below (cleanups run last-in first-out).
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	cmd := exec.Command(bin, "--config-file="+configPath, "--nofork", "--nopidfile", "--print-address=3")
	cmd.ExtraFiles = []*os.File{w}
	proc, err := startProcess(t, "dbus-daemon", cmd)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("desktoptest: %v", err)
	}
	b := &Bus{Addr: addr, Dir: dir, proc: proc}
	t.Cleanup(func() { b.Stop(t) })

	printed, err := readLine(r, proc, startTimeout)
	if err != nil {
		t.Fatalf("desktoptest: bus did not start: %v", err)
	}
	if printed == "" {
		t.Fatalf("desktoptest: dbus-daemon printed an empty address; its output:\n%s", proc.output())
	}
	return b
}

// Stop stops the daemon (clients see the bus disappear) and waits until
// godbus's shared session connection is gone. It is idempotent; StartBus's
// cleanup calls it.
func (b *Bus) Stop(t testing.TB) {
	t.Helper()
	b.proc.stop(t)
	waitSharedSessionBusGone(t, b.Addr)
}

// waitSharedSessionBusGone waits until dbus.SessionBus() no longer returns a
// connection to the bus at addr, which has just been stopped. dbus.SessionBus
// caches one connection per process and replaces it only once it has
// noticed that the old one is closed; this makes that deterministic.
func waitSharedSessionBusGone(t testing.TB, addr string) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != addr {
		// The test pointed the variable elsewhere; calling dbus.SessionBus
		// could connect to (or launch) another bus. Nothing to do.
		return
	}
	deadline := time.NewTimer(stopGrace)
	defer deadline.Stop()
	for {
		conn, err := dbus.SessionBus()
		if err != nil {
			return // the dead address no longer connects: nothing is cached
		}
		// A cached connection to the stopped bus: its reader goroutine
		// closes it on EOF, cancelling its context; then ask again.
		select {
		case <-conn.Context().Done():
		case <-deadline.C:
			t.Errorf("desktoptest: godbus's shared session connection to %s stayed open %v after the bus stopped", addr, stopGrace)
			return
		}
	}
}

// Env returns the current environment with DBUS_SESSION_BUS_ADDRESS set to
// this bus, ready for exec.Cmd.Env.
func (b *Bus) Env() []string {
	return append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+b.Addr)
}

// Conn opens a new private connection to the bus, closed in t.Cleanup.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := b.dial()
	if err != nil {
		t.Fatalf("desktoptest: connect to %s: %v", b.Addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// dial opens a private, authenticated connection to the bus.
func (b *Bus) dial() (*dbus.Conn, error) {
	return dbus.Connect(b.Addr)
}

// WaitForName waits until some client owns the well-known name on the bus,
// polling org.freedesktop.DBus.NameHasOwner until timeout, and fails the
// test if it does not appear.
func (b *Bus) WaitForName(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	if err := b.waitForOwner(name, true, timeout, nil); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
}

// WaitForNameGone waits until nobody owns the name, polling until timeout,
// and fails the test otherwise.
func (b *Bus) WaitForNameGone(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	if err := b.waitForOwner(name, false, timeout, nil); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
}

// HasOwner reports whether some client owns the name right now.
func (b *Bus) HasOwner(t testing.TB, name string) bool {
	t.Helper()
	conn, err := b.dial()
	if err != nil {
		t.Fatalf("desktoptest: connect to %s: %v", b.Addr, err)
	}
	defer conn.Close()
	has, err := nameHasOwner(conn, name)
	if err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	return has
}

// waitForOwner polls NameHasOwner until it answers want or timeout passes.
// alive, when not nil, is checked on every tick so that a service which died
// fails fast with its output instead of waiting for the deadline.
func (b *Bus) waitForOwner(name string, want bool, timeout time.Duration, alive func() error) error {
	conn, err := b.dial()
	if err != nil {
		return fmt.Errorf("connect to %s: %w", b.Addr, err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		has, err := nameHasOwner(conn, name)
		if err != nil {
			return err
		}
		if has == want {
			return nil
		}
		if alive != nil {
			if err := alive(); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			if want {
				return fmt.Errorf("nobody owned %s on the bus within %v", name, timeout)
			}
			return fmt.Errorf("%s was still owned on the bus after %v", name, timeout)
		case <-ticker.C:
		}
	}
}

func nameHasOwner(conn *dbus.Conn, name string) (bool, error) {
	var has bool
	err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
	if err != nil {
		return false, fmt.Errorf("NameHasOwner(%s): %w", name, err)
	}
	return has, nil
}
