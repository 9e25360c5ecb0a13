package tray

import (
	"bytes"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/assets"
	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/tray/traytest"
)

const waitLong = 15 * time.Second

// helperProc is the helper process running the tray.
type helperProc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{} // closed when the process exited; err is set then
	err  error
}

// startHelper re-executes the test binary as a tray helper on the test's bus.
func startHelper(t *testing.T, mode string, env ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// fyne systray v1.12.2 has a data race of its own (menuVersion, read in
	// GetLayout under one lock and written in refresh under another). Under
	// -race the helper writes its reports to files instead of failing with
	// exit status 66, and checkRaces fails the test for any report that
	// involves clearway's code.
	raceDir := t.TempDir()
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode,
		"GORACE=exitcode=0 log_path=" + filepath.Join(raceDir, "race")}, env...)...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	p := &helperProc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		checkRaces(t, raceDir)
		if t.Failed() || os.Getenv("TRAY_HELPER_LOG") != "" {
			t.Logf("helper output:\n%s", p.out.String())
		}
	})
	return p
}

// checkRaces fails the test for every race report in dir that involves
// clearway's own code, and logs the others (fyne systray's known race).
func checkRaces(t *testing.T, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "race*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("read race report: %v", err)
			continue
		}
		for _, report := range strings.Split(string(b), "==================") {
			if !strings.Contains(report, "DATA RACE") {
				continue
			}
			if strings.Contains(report, "github.com/clearway/clearway") {
				t.Errorf("data race in the helper involving clearway's code:\n%s", report)
			} else {
				t.Logf("known data race inside a dependency (not clearway's code), ignored:\n%s", firstLines(report, 6))
			}
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// wait waits for the helper to exit and returns its error.
func (p *helperProc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("helper still running after %v", timeout)
		return nil
	}
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// argbOf converts a PNG to the ARGB32 pixmap systray sends, to compare icons.
func argbOf(t *testing.T, pngData []byte) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	out := make([]byte, 0, b.Dx()*b.Dy()*4)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			out = append(out, byte(a), byte(r), byte(g), byte(bl))
		}
	}
	return out
}

// iconIs reports whether the item currently shows the state icon st.
func iconIs(t *testing.T, it *traytest.Item, st assets.State) bool {
	px := it.IconPixmap(t)
	return len(px) == 1 && bytes.Equal(px[0].ARGB, argbOf(t, assets.StateIcon(st)))
}

// TestTrayOverDBus runs the tray in a helper process on a private bus, acts
// as the desktop's tray host, and drives it the way a user would: reads the
// item and its menu, stops and starts the proxy, clears cookies, toggles
// start at login, and checks the notifications that reach a notification
// server on the bus. Then it clicks Quit.
func TestTrayOverDBus(t *testing.T) {
	bus := desktoptest.StartBus(t)
	host := traytest.StartHost(t, bus.Conn(t))
	rec := desktoptest.StartNotificationRecorder(t, bus)
	configHome := t.TempDir()
	autostart := filepath.Join(configHome, "autostart", "clearway.desktop")

	p := startHelper(t, "1", "XDG_CONFIG_HOME="+configHome)
	it := host.WaitItem(t, waitLong)

	// The item: id, title, tooltip and the running icon.
	if got := it.ID(t); got != "clearway" {
		t.Errorf("Id = %q, want clearway", got)
	}
	if got := it.Title(t); got != "clearway" {
		t.Errorf("Title = %q, want clearway", got)
	}
	traytest.Wait(t, "tooltip says running", waitLong, func() bool {
		return strings.HasPrefix(it.ToolTip(t).Title, "clearway 0.0.0-test: running on 127.0.0.1:")
	})
	traytest.Wait(t, "running icon", waitLong, func() bool { return iconIs(t, it, assets.Running) })
	if px := it.IconPixmap(t); px[0].W != 32 || px[0].H != 32 {
		t.Errorf("icon is %dx%d, want 32x32", px[0].W, px[0].H)
	}

	// The whole menu, once the depth-1 first answer has been replaced.
	m := it.WaitMenu(t, "complete menu", waitLong, func(m *traytest.MenuItem) bool {
		return m.Find("Upstreams", "anthropic: ok", "Clear cookies") != nil
	})
	status := m.Children[0].Label
	addr := strings.TrimPrefix(status, "Running on ")
	if addr == status {
		t.Fatalf("status line %q does not say where the proxy runs", status)
	}
	want := []string{
		"(" + status + ")", "--", "Stop proxy", "--", "Copy base URL", "Copy Claude Code setup", "Copy OpenAI setup", "Open dashboard", "--",
		"Upstreams", "  anthropic: ok", "    (https://api.anthropic.com)", "    (0 requests, 0 retries)", "    (3 cookies kept)", "    Clear cookies",
		"  openai: idle", "    (https://api.openai.com)", "    (0 requests, 0 retries)", "    (0 cookies kept)", "    (Clear cookies)",
		"API keys (1 missing)", "  anthropic: set", "    (Used by anthropic)", "    Set from clipboard", "    Remove",
		"  openai: missing", "    (Used by openai)", "    Set from clipboard", "    (Remove)", "--",
		"[x] Notifications", "[ ] Start at login", "--", "Open config file", "Open log folder", "Run diagnostics", "--", "Quit",
	}
	if got := m.Labels(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("menu:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	base := "http://" + addr
	if body, err := get(t, base+"/"); err != nil || body != "ok" {
		t.Fatalf("proxy does not serve before Stop: %q, %v", body, err)
	}

	t.Run("stop and start", func(t *testing.T) {
		it.ClickPath(t, waitLong, "Stop proxy")
		traytest.Wait(t, "port closes", waitLong, func() bool {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err != nil
		})
		it.WaitEntry(t, waitLong, "Start proxy")
		traytest.Wait(t, "stopped icon", waitLong, func() bool { return iconIs(t, it, assets.Stopped) })
		if tip := it.ToolTip(t).Title; tip != "clearway 0.0.0-test: stopped" {
			t.Errorf("tooltip when stopped = %q", tip)
		}

		it.ClickPath(t, waitLong, "Start proxy")
		traytest.Wait(t, "proxy serves again", waitLong, func() bool {
			body, err := get(t, base+"/")
			return err == nil && body == "ok"
		})
		it.WaitEntry(t, waitLong, "Stop proxy")
	})

	t.Run("clear cookies", func(t *testing.T) {
		if n, err := get(t, base+"/_cookies?upstream=anthropic"); n != "3" {
			t.Fatalf("cookies before = %q, %v; want 3", n, err)
		}
		it.ClickPath(t, waitLong, "Upstreams", "anthropic: ok", "Clear cookies")
		traytest.Wait(t, "jar empties", waitLong, func() bool {
			n, _ := get(t, base+"/_cookies?upstream=anthropic")
			return n == "0"
		})
		if e := it.WaitEntry(t, waitLong, "Upstreams", "anthropic: ok", "Clear cookies"); e.Enabled {
			// WaitEntry found it; now wait for the update to disable it.
			it.WaitMenu(t, "Clear cookies disabled with an empty jar", waitLong, func(m *traytest.MenuItem) bool {
				e := m.Find("Upstreams", "anthropic: ok", "Clear cookies")
				return e != nil && !e.Enabled && m.Find("Upstreams", "anthropic: ok", "0 cookies kept") != nil
			})
		}
	})

	t.Run("start at login", func(t *testing.T) {
		it.ClickPath(t, waitLong, "Start at login")
		traytest.Wait(t, "autostart file appears", waitLong, func() bool { _, err := os.Stat(autostart); return err == nil })
		b, err := os.ReadFile(autostart)
		if err != nil || !strings.Contains(string(b), "Exec="+os.Args[0]) {
			t.Errorf("autostart entry does not run the helper: %v\n%s", err, b)
		}
		it.WaitMenu(t, "Start at login checked", waitLong, func(m *traytest.MenuItem) bool {
			e := m.Find("Start at login")
			return e != nil && e.Checked()
		})
		it.ClickPath(t, waitLong, "Start at login")
		traytest.Wait(t, "autostart file goes", waitLong, func() bool { _, err := os.Stat(autostart); return os.IsNotExist(err) })
		it.WaitMenu(t, "Start at login unchecked", waitLong, func(m *traytest.MenuItem) bool {
			e := m.Find("Start at login")
			return e != nil && !e.Checked()
		})
	})

	t.Run("one notification per burst, then recovered", func(t *testing.T) {
		before := len(rec.Notifications())
		if _, err := get(t, base+"/_publish?kind=retrying&n=25&upstream=anthropic&attempt=1"); err != nil {
			t.Fatal(err)
		}
		if _, err := get(t, base+"/_publish?kind=recovered&upstream=anthropic&attempt=3"); err != nil {
			t.Fatal(err)
		}
		got := rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
			return len(ns) > before && strings.HasSuffix(ns[len(ns)-1].Summary, "recovered")
		}, waitLong)[before:]
		if len(got) != 2 {
			t.Fatalf("got %d notifications for 25 retries and a recovery, want 2: %+v", len(got), got)
		}
		retry, recovered := got[0], got[1]
		if retry.Summary != "anthropic: rate limited, retrying" || recovered.Summary != "anthropic: recovered" {
			t.Errorf("summaries %q, %q", retry.Summary, recovered.Summary)
		}
		if recovered.ReplacesID != retry.ID {
			t.Errorf("recovered replaces %d, want the retrying notice %d", recovered.ReplacesID, retry.ID)
		}
		for _, n := range got {
			if n.AppName != "clearway" {
				t.Errorf("app name %q", n.AppName)
			}
			// Notifications go over their own connection, never systray's.
			if n.Sender == it.Service {
				t.Errorf("notification sent on the tray's shared connection %s", n.Sender)
			}
			if strings.Contains(n.Summary+n.Body, helperToken) || strings.Contains(n.Summary+n.Body, "sk-ant-helper") {
				t.Errorf("notification carries a secret: %q %q", n.Summary, n.Body)
			}
		}
	})

	t.Run("notifications off", func(t *testing.T) {
		it.ClickPath(t, waitLong, "Notifications")
		it.WaitMenu(t, "Notifications unchecked", waitLong, func(m *traytest.MenuItem) bool {
			e := m.Find("Notifications")
			return e != nil && !e.Checked()
		})
		before := len(rec.Notifications())
		if _, err := get(t, base+"/_publish?kind=gave_up&upstream=openai&attempt=4"); err != nil {
			t.Fatal(err)
		}
		// Turning notifications back on and publishing again proves the
		// first event was handled (the notifier is sequential) and dropped.
		it.ClickPath(t, waitLong, "Notifications")
		it.WaitMenu(t, "Notifications checked", waitLong, func(m *traytest.MenuItem) bool {
			e := m.Find("Notifications")
			return e != nil && e.Checked()
		})
		if _, err := get(t, base+"/_publish?kind=gave_up&upstream=supermemory&attempt=4"); err != nil {
			t.Fatal(err)
		}
		got := rec.WaitFor(t, func(ns []desktoptest.Notification) bool { return len(ns) > before }, waitLong)[before:]
		if len(got) != 1 || got[0].Summary != "supermemory: gave up" {
			t.Errorf("got %+v, want only supermemory's gave-up notice", got)
		}
	})

	outer := t
	t.Run("registers again after the panel restarts", func(t *testing.T) {
		// Dismissing a notification emits NotificationClosed. Had the
		// notifier used systray's shared connection, systray's re-register
		// loop would have read that signal and stopped (see the notes).
		ns := rec.Notifications()
		rec.Close(t, ns[len(ns)-1].ID, desktoptest.ClosedDismissed)
		host.Close()
		bus.WaitForNameGone(t, traytest.WatcherName, waitLong)
		host2 := traytest.StartHost(outer, bus.Conn(outer)) // outlives the subtest
		it2 := host2.WaitItem(t, waitLong)
		it2.WaitEntry(t, waitLong, "Stop proxy")
		it = it2
	})

	it.ClickPath(t, waitLong, "Quit")
	if err := p.wait(t, waitLong); err != nil {
		t.Fatalf("helper exited with %v", err)
	}
	if !strings.Contains(p.out.String(), "quit clicked: true") {
		t.Errorf("helper did not report the Quit click:\n%s", p.out.String())
	}
}

// TestTraySIGTERM checks that the tray quits cleanly on SIGTERM, which
// systray does not handle by itself.
func TestTraySIGTERM(t *testing.T) {
	bus := desktoptest.StartBus(t)
	host := traytest.StartHost(t, bus.Conn(t))
	p := startHelper(t, "1", "XDG_CONFIG_HOME="+t.TempDir())
	it := host.WaitItem(t, waitLong)
	it.WaitEntry(t, waitLong, "Stop proxy")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, waitLong); err != nil {
		t.Fatalf("helper exited with %v after SIGTERM", err)
	}
	if !strings.Contains(p.out.String(), "quit clicked: false") {
		t.Errorf("helper did not return from Run:\n%s", p.out.String())
	}
}

func TestAvailable(t *testing.T) {
	t.Run("no bus", func(t *testing.T) {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
		t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
		err := available(time.Second)
		if err == nil || !strings.Contains(err.Error(), "no D-Bus session bus") {
			t.Errorf("Available() = %v, want a no-bus error", err)
		}
	})
	bus := desktoptest.StartBus(t)
	t.Run("bus without tray host", func(t *testing.T) {
		err := available(50 * time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "no system tray") {
			t.Errorf("Available() = %v, want a no-tray error", err)
		}
	})
	outer := t
	t.Run("host appears while waiting", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- available(waitLong) }()
		// Own the watcher name while available may be waiting for it:
		// whichever way the race goes, the answer must be nil. The host
		// belongs to the outer test, so it stays for the next subtest.
		traytest.StartHost(outer, bus.Conn(outer))
		if err := <-done; err != nil {
			t.Errorf("Available() = %v, want nil once a host exists", err)
		}
	})
	t.Run("host present", func(t *testing.T) {
		if err := available(time.Millisecond); err != nil {
			t.Errorf("Available() = %v", err)
		}
	})
}
