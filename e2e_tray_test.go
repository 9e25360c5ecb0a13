//go:build linux

package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/tray/traytest"
)

// TestTrayWithTheRealBinary runs `clearway` (no arguments) on a private
// session bus where the test is the desktop's tray host and notification
// server, and drives the real menu over com.canonical.dbusmenu: stop and
// start the proxy, clear cookies the proxy really earned from a cookie-gated
// upstream, toggle start at login, and receive one coalesced notification
// for a burst of rate-limited requests plus a "recovered" one.
func TestTrayWithTheRealBinary(t *testing.T) {
	const wait = 20 * time.Second
	bus := desktoptest.StartBus(t)
	host := traytest.StartHost(t, bus.Conn(t))
	rec := desktoptest.StartNotificationRecorder(t, bus)
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	sb.env["DBUS_SESSION_BUS_ADDRESS"] = bus.Addr
	sb.env["CLEARWAY_TOKEN"] = "tray-test-TESTSECRET-token-0123456789abcdef"
	sb.env["CLEARWAY_CONFIG"] = sb.config
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	// fyne.io/systray v1.12.2 has a data race of its own (GetLayout vs
	// refresh in systray_menu_unix.go); the race detector's reports go to a
	// file, and any report that is not inside systray fails the test.
	raceLog := filepath.Join(sb.home, "race")
	sb.env["GORACE"] = "exitcode=0 log_path=" + raceLog
	// The desktop's opener is a script that writes down what it was asked
	// to open, so "Open dashboard" is checked end to end.
	openerDir, opened := filepath.Join(sb.home, "bin"), filepath.Join(sb.home, "opened")
	if err := os.MkdirAll(openerDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(openerDir, "xdg-open"), []byte("#!/bin/sh\nprintf '%s' \"$1\" > "+opened+".tmp && mv "+opened+".tmp "+opened+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	sb.env["PATH"] = openerDir + string(os.PathListSeparator) + os.Getenv("PATH")

	p := sb.start()
	out := p.stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("clearway output:\n%s", out.String())
		}
	})

	it := host.WaitItem(t, wait)
	if id := it.ID(t); id != "clearway" {
		t.Errorf("Id = %q", id)
	}
	m := it.WaitMenu(t, "running menu", wait, func(m *traytest.MenuItem) bool {
		return len(m.Children) > 0 && strings.HasPrefix(m.Children[0].Label, "Running on ") && m.Find("Upstreams", "cf: idle") != nil
	})
	addr := strings.TrimPrefix(m.Children[0].Label, "Running on ")
	if tip := it.ToolTip(t); !strings.Contains(tip.Title+tip.Description, "running") {
		t.Errorf("tooltip %+v does not say running", tip)
	}
	if px := it.IconPixmap(t); len(px) == 0 {
		t.Error("no icon pixmap")
	}

	// A burst of rate-limited requests: each is retried and recovers.
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := request(t, "POST", "http://"+addr+"/cf/v1/messages", http.Header{"User-Agent": {"tray-test/1"}}, "{}")
			if resp.StatusCode != 200 {
				t.Errorf("through the tray's proxy: %d %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	notes := rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
		for _, n := range ns {
			if strings.Contains(strings.ToLower(n.Summary), "recovered") {
				return true
			}
		}
		return false
	}, wait)
	limited := 0
	for _, n := range notes {
		if strings.Contains(strings.ToLower(n.Summary), "rate limited") {
			limited++
		}
		if strings.Contains(n.Summary+n.Body, "TESTSECRET") || strings.Contains(n.Summary+n.Body, "CFVALUE") {
			t.Errorf("a notification carries a secret: %q %q", n.Summary, n.Body)
		}
	}
	if limited != 1 {
		t.Errorf("%d rate-limited notifications for one burst of 5, want 1: %+v", limited, notes)
	}

	// Clear cookies from the menu: the jar the proxy earned empties.
	it.WaitEntry(t, wait, "Upstreams", "cf: ok", "1 cookie kept")
	it.ClickPath(t, wait, "Upstreams", "cf: ok", "Clear cookies")
	it.WaitEntry(t, wait, "Upstreams", "cf: ok", "0 cookies kept")

	// Stop, then start again.
	it.ClickPath(t, wait, "Stop proxy")
	traytest.Wait(t, "the port closes", wait, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	it.ClickPath(t, wait, "Start proxy")
	m = it.WaitMenu(t, "running again", wait, func(m *traytest.MenuItem) bool {
		return len(m.Children) > 0 && strings.HasPrefix(m.Children[0].Label, "Running on ")
	})
	addr = strings.TrimPrefix(m.Children[0].Label, "Running on ")
	traytest.Wait(t, "the proxy serves again", wait, func() bool {
		resp, err := http.Get("http://" + addr + "/_clearway/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// The tooltip counts today's usage from the ledger (the burst above).
	traytest.Wait(t, "tooltip shows today's usage", wait, func() bool {
		tip := it.ToolTip(t)
		return strings.Contains(tip.Title+tip.Description, "today: ")
	})
	// Open dashboard hands the desktop's opener a one-time login link that
	// logs a browser in once.
	it.ClickPath(t, wait, "Open dashboard")
	var link string
	traytest.Wait(t, "the opener got the dashboard's link", wait, func() bool {
		b, err := os.ReadFile(opened)
		link = string(b)
		return err == nil
	})
	if !strings.HasPrefix(link, "http://"+addr+"/_clearway/ui/login?code=") || strings.Contains(link, "TESTSECRET") {
		t.Fatalf("opened %q", link)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i, want := range []int{http.StatusSeeOther, http.StatusUnauthorized} {
		resp, err := noRedirect.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("dashboard link, use %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}

	// Start at login writes and removes the XDG autostart entry.
	autostart := filepath.Join(sb.env["XDG_CONFIG_HOME"], "autostart", "clearway.desktop")
	it.ClickPath(t, wait, "Start at login")
	traytest.Wait(t, "the autostart file appears", wait, func() bool { _, err := os.Stat(autostart); return err == nil })
	it.WaitMenu(t, "Start at login checked", wait, func(m *traytest.MenuItem) bool {
		e := m.Find("Start at login")
		return e != nil && e.Checked()
	})
	it.ClickPath(t, wait, "Start at login")
	traytest.Wait(t, "the autostart file goes", wait, func() bool { _, err := os.Stat(autostart); return os.IsNotExist(err) })

	// Run diagnostics: the real checks of this clearway, summed up in a
	// notification (no X here, so the report cannot reach a clipboard and
	// the notification says where to get it instead).
	it.ClickPath(t, wait, "Run diagnostics")
	diag := rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
		for _, n := range ns {
			if strings.HasPrefix(n.Summary, "Diagnostics: ") {
				return true
			}
		}
		return false
	}, wait)
	for _, n := range diag {
		if !strings.HasPrefix(n.Summary, "Diagnostics: ") {
			continue
		}
		t.Logf("Run diagnostics: %s\n%s", n.Summary, n.Body)
		if !strings.Contains(n.Summary, " ok, ") || strings.Contains(n.Summary+n.Body, "TESTSECRET") {
			t.Errorf("diagnostics notification %q %q", n.Summary, n.Body)
		}
		if !strings.Contains(n.Body, "clearway doctor") && !strings.Contains(n.Body, "on the clipboard") {
			t.Errorf("the diagnostics notification does not say where the report is: %q", n.Body)
		}
	}

	// Quit from the menu ends the process cleanly.
	it.ClickPath(t, wait, "Quit")
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("clearway exited with %v after Quit", err)
		}
	case <-time.After(wait):
		t.Fatal("clearway did not exit after Quit")
	}
	checkRaces(t, raceLog, "fyne.io/systray.")
	for _, secret := range []string{"TESTSECRET", "CFVALUE"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("a secret reached the log")
		}
	}
}

// TestNoBusRunsHeadless: without a session bus, `clearway` says so in one line
// and serves headless.
func TestNoBusRunsHeadless(t *testing.T) {
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	sb.env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + filepath.Join(sb.home, "no-bus")
	sb.env["CLEARWAY_CONFIG"] = sb.config
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	out := sb.start().stderr
	waitUntil(t, "the headless notice", 20*time.Second, func() bool { return strings.Contains(out.String(), "running headless") })
	waitUntil(t, "the proxy listening", 20*time.Second, func() bool { return strings.Contains(out.String(), "listening") })
}

// checkRaces fails the test for every data race report in the race logs
// (GORACE log_path=logPrefix) except those entirely inside knownRacy (a
// package path prefix such as "fyne.io/systray."): a report is ignored only
// when the code that made EACH of the two conflicting accesses is in that
// package, so a race between the library and clearway's own code fails.
func checkRaces(t *testing.T, logPrefix, knownRacy string) {
	t.Helper()
	files, _ := filepath.Glob(logPrefix + ".*")
	known := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, report := range strings.Split(string(b), "WARNING: DATA RACE")[1:] {
			if raceInside(report, knownRacy) {
				known++
				continue
			}
			t.Errorf("data race in clearway's own code:\n%s", report)
		}
	}
	if known > 0 {
		t.Logf("%d race report(s) inside %s ignored (a bug of that library)", known, knownRacy)
	}
}

// raceInside reports whether both accesses of a race report were made by
// code in pkg: for each access section ("Read at ...", "Previous write at
// ..."), the first frame outside the runtime and the standard library's
// internals must start with pkg. A report with fewer than two access
// sections is never inside.
func raceInside(report, pkg string) bool {
	accesses := 0
	for _, section := range strings.Split(report, "\n\n") {
		lines := strings.Split(strings.Trim(section, "\n="), "\n")
		head := strings.ToLower(strings.TrimPrefix(lines[0], "Previous "))
		if !strings.Contains(head, " at 0x") || !(strings.HasPrefix(head, "read") || strings.HasPrefix(head, "write") || strings.HasPrefix(head, "atomic")) {
			continue
		}
		accesses++
		frame := ""
		for _, l := range lines[1:] {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "/") || strings.Contains(l, ".go:") {
				continue // file:line lines
			}
			if strings.HasPrefix(l, "runtime.") || strings.HasPrefix(l, "internal/") || strings.HasPrefix(l, "sync.") || strings.HasPrefix(l, "sync/atomic.") {
				continue
			}
			frame = l
			break
		}
		if !strings.HasPrefix(frame, pkg) {
			return false
		}
	}
	return accesses >= 2
}

// TestNoTrayHostStillNotifies: a desktop session without a tray (a session
// bus and a notification server, no StatusNotifierWatcher, as on GNOME
// without the AppIndicator extension) runs the proxy headless and still
// shows its notifications.
func TestNoTrayHostStillNotifies(t *testing.T) {
	bus := desktoptest.StartBus(t)
	rec := desktoptest.StartNotificationRecorder(t, bus)
	_, up := newGate(t)
	sb := newSandbox(t)
	sb.trust(up)
	sb.env["DBUS_SESSION_BUS_ADDRESS"] = bus.Addr
	sb.env["CLEARWAY_CONFIG"] = sb.config
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	p := sb.start()
	var addr string
	waitUntil(t, "the headless proxy", 30*time.Second, func() bool {
		info, err := instance.Read(sb.dataDir())
		addr = info.Addr
		return err == nil && addr != ""
	})
	if !strings.Contains(p.stderr.String(), "running headless") {
		t.Errorf("no headless notice: %s", p.stderr.String())
	}
	resp, body := request(t, "POST", "http://"+addr+"/cf/v1/messages", http.Header{"User-Agent": {"t/1"}}, "{}")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
		for _, n := range ns {
			if strings.Contains(strings.ToLower(n.Summary), "recovered") {
				return true
			}
		}
		return false
	}, 20*time.Second)
}
