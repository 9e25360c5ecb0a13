package desktoptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// dunstConfig keeps every notification on screen until it is closed, and a
// long history, so tests see everything that arrived.
const dunstConfig = `[global]
    monitor = 0
    follow = none
    history_length = 100
    idle_threshold = 0
    show_indicators = no
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
`

const dunstIface = "org.dunstproject.cmd0"

// Dunst is the dunst notification daemon running on an X display and a
// private bus. Create one with StartDunst; its zero value is not usable. Its
// methods may be called from several goroutines.
type Dunst struct {
	conn *dbus.Conn // private connection for queries
	proc *process
}

// DunstNotification is one entry of dunst's history.
type DunstNotification struct {
	ID      int32
	AppName string
	Summary string
	Body    string
}

// StartDunst starts dunst on the display in DISPLAY (start Xvfb first with
// StartXvfb) and the bus, waits until it owns org.freedesktop.Notifications
// and stops it in t.Cleanup. Notifications never expire by themselves.
func StartDunst(t testing.TB, b *Bus) *Dunst {
	t.Helper()
	bin := Require(t, "dunst")["dunst"]
	if os.Getenv("DISPLAY") == "" {
		t.Fatalf("desktoptest: StartDunst needs an X display: call StartXvfb first")
	}
	configPath := filepath.Join(t.TempDir(), "dunstrc")
	if err := os.WriteFile(configPath, []byte(dunstConfig), 0o600); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	cmd := exec.Command(bin, "-config", configPath)
	cmd.Env = b.Env()
	proc, err := startProcess(t, "dunst", cmd)
	if err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	t.Cleanup(func() { proc.stop(t) })
	if err := b.waitForOwner(NotificationsName, true, startTimeout, proc.exitedErr); err != nil {
		t.Fatalf("desktoptest: dunst did not start: %v; its output:\n%s", err, proc.output())
	}
	return &Dunst{conn: b.Conn(t), proc: proc}
}

// Displayed returns how many notifications dunst shows right now.
func (d *Dunst) Displayed(t testing.TB) int {
	t.Helper()
	return int(d.uintProperty(t, "displayedLength"))
}

// WaitDisplayed waits until dunst shows exactly n notifications, polling
// every 10 ms until timeout.
func (d *Dunst) WaitDisplayed(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		got := d.Displayed(t)
		if got == n {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("desktoptest: dunst displays %d notifications after %v, want %d", got, timeout, n)
		case <-ticker.C:
		}
	}
}

// CloseAll closes every displayed notification; dunst moves them to its
// history.
func (d *Dunst) CloseAll(t testing.TB) {
	t.Helper()
	if err := d.conn.Object(NotificationsName, NotificationsPath).Call(dunstIface+".NotificationCloseAll", 0).Err; err != nil {
		t.Fatalf("desktoptest: dunst NotificationCloseAll: %v", err)
	}
}

// History returns dunst's history, newest first, through
// org.dunstproject.cmd0.NotificationListHistory (what `dunstctl history`
// prints). Displayed notifications are not in it until closed: call
// CloseAll first to see everything that arrived.
func (d *Dunst) History(t testing.TB) []DunstNotification {
	t.Helper()
	var raw []map[string]dbus.Variant
	if err := d.conn.Object(NotificationsName, NotificationsPath).Call(dunstIface+".NotificationListHistory", 0).Store(&raw); err != nil {
		t.Fatalf("desktoptest: dunst NotificationListHistory: %v", err)
	}
	out := make([]DunstNotification, 0, len(raw))
	for _, m := range raw {
		var n DunstNotification
		_ = m["id"].Store(&n.ID)
		_ = m["appname"].Store(&n.AppName)
		_ = m["summary"].Store(&n.Summary)
		_ = m["body"].Store(&n.Body)
		out = append(out, n)
	}
	return out
}

func (d *Dunst) uintProperty(t testing.TB, name string) uint32 {
	t.Helper()
	v, err := d.conn.Object(NotificationsName, NotificationsPath).GetProperty(dunstIface + "." + name)
	if err != nil {
		t.Fatalf("desktoptest: dunst property %s: %v", name, err)
	}
	var n uint32
	if err := v.Store(&n); err != nil {
		t.Fatalf("desktoptest: dunst property %s = %v: %v", name, v, err)
	}
	return n
}
