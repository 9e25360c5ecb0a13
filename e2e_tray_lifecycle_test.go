//go:build linux

package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/tray/traytest"
)

// TestTrayStopDuringStart clicks "Stop proxy" in the real tray menu while
// the proxy is still starting after a "Start proxy" click (the start held
// where it reads the keychain by the CLEARWAY_TEST_START_HOLD hook, like a
// slow keychain that cannot be interrupted), then lets that start finish: the proxy ends stopped and its
// port closed, and the server built after the Stop never serves. A Start
// afterwards serves on the same port.
func TestTrayStopDuringStart(t *testing.T) {
	const wait = 20 * time.Second
	bus := desktoptest.StartBus(t)
	host := traytest.StartHost(t, bus.Conn(t))
	desktoptest.StartNotificationRecorder(t, bus)
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	addr := freeAddr(t)
	sb.env["DBUS_SESSION_BUS_ADDRESS"] = bus.Addr
	sb.env["CLEARWAY_CONFIG"] = sb.config
	sb.writeConfig(strings.Replace(strings.ReplaceAll(gateYAML, "%s", up.URL), "listen: 127.0.0.1:0", "listen: "+addr, 1))

	// Every start connects here and waits for one byte.
	holdPath := filepath.Join(sb.home, "hold")
	hold, err := net.Listen("unix", holdPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Close() })
	starts := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := hold.Accept()
			if err != nil {
				return
			}
			starts <- c
		}
	}()
	nextStart := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-starts:
			return c
		case <-time.After(wait):
			t.Fatalf("no start reached the keychain: %s", what)
			return nil
		}
	}
	sb.env["CLEARWAY_TEST_START_HOLD"] = holdPath
	raceLog := filepath.Join(sb.home, "race")
	sb.env["GORACE"] = "exitcode=0 log_path=" + raceLog

	p := sb.start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("clearway output:\n%s", p.stderr.String())
		}
	})
	// The start at launch goes through (the icon shows after it); then
	// Stop, and Start again, held.
	held := nextStart("the start at launch")
	held.Close()
	it := host.WaitItem(t, wait)
	it.WaitEntry(t, wait, "Running on "+addr)
	it.ClickPath(t, wait, "Stop proxy")
	it.WaitEntry(t, wait, "Stopped")
	it.ClickPath(t, wait, "Start proxy")
	held = nextStart("the Start click")

	// The start is held: the menu says so and offers Stop.
	it.WaitEntry(t, wait, "Starting on "+addr+"…")
	it.ClickPath(t, wait, "Stop proxy")
	it.WaitEntry(t, wait, "Stopping…")
	if portOpen(addr) {
		t.Fatal("the port is open while the start is held")
	}

	// The start finishes after the Stop: its server must never serve.
	if _, err := held.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	held.Close()
	m := it.WaitMenu(t, "stopped", wait, func(m *traytest.MenuItem) bool {
		return len(m.Children) > 0 && m.Children[0].Label == "Stopped" && m.Find("Start proxy") != nil
	})
	if portOpen(addr) {
		t.Fatalf("the port is open after Stop during Start; menu:\n%s", m)
	}
	if info, err := instance.Read(sb.dataDir()); err != nil || info.Addr != "" {
		t.Fatalf("instance file says %+v (%v), want no address", info, err)
	}

	// Start again: it serves on the configured port.
	it.ClickPath(t, wait, "Start proxy")
	held = nextStart("the Start click")
	it.WaitEntry(t, wait, "Starting on "+addr+"…")
	if _, err := held.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	held.Close()
	it.WaitEntry(t, wait, "Running on "+addr)
	resp, err := http.Get("http://" + addr + "/_clearway/health")
	if err != nil {
		t.Fatalf("after Start: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health answered %d", resp.StatusCode)
	}

	// Quit is clicked in TestTrayWithTheRealBinary; here SIGTERM ends it
	// (clicking Quit can race the reply to the click with the exit).
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Errorf("clearway exited with %v after SIGTERM", err)
	}
	checkRaces(t, raceLog, "fyne.io/systray.")
}

// portOpen reports whether something accepts connections on addr.
func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
