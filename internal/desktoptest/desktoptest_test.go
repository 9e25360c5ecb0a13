//go:build unix

package desktoptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// recordingTB captures Fatalf and Skipf instead of stopping the test, to test
// Require's decision.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()                        {}
func (r *recordingTB) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recordingTB) Skipf(format string, a ...any)  { r.skip = fmt.Sprintf(format, a...) }

func TestRequireReturnsAbsolutePaths(t *testing.T) {
	paths := Require(t, "sh")
	if !filepath.IsAbs(paths["sh"]) {
		t.Fatalf("Require(sh) = %q, want an absolute path", paths["sh"])
	}
}

func TestRequireMissingToolFailsInCIAndSkipsLoudlyOtherwise(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{
		{ci: "true", wantFail: true},
		{ci: "", wantFail: false},
		{ci: "false", wantFail: false},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &recordingTB{TB: t}
			got := Require(rec, "sh", "dunst-does-not-exist", "definitely-not-a-tool")
			if got != nil {
				t.Errorf("Require returned %v with tools missing, want nil", got)
			}
			msg := rec.skip
			if tc.wantFail {
				msg = rec.fatal
				if rec.skip != "" {
					t.Errorf("skipped under CI=true: %s", rec.skip)
				}
			} else if rec.fatal != "" {
				t.Errorf("failed without CI=true: %s", rec.fatal)
			}
			if !strings.Contains(msg, "dunst-does-not-exist, definitely-not-a-tool") || !strings.Contains(msg, "MISSING TOOLS") {
				t.Errorf("message %q does not name the missing tools loudly", msg)
			}
		})
	}
}

func TestRequireNamesTheDebianPackage(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv("PATH", t.TempDir()) // nothing is found
	rec := &recordingTB{TB: t}
	Require(rec, "secret-tool", "Xvfb")
	if !strings.Contains(rec.fatal, "apt-get install --no-install-recommends libsecret-tools xvfb") {
		t.Errorf("message %q does not give the apt-get command", rec.fatal)
	}
}

func TestBusIsPrivateAndStartsNothing(t *testing.T) {
	b := StartBus(t)
	if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != b.Addr {
		t.Fatalf("DBUS_SESSION_BUS_ADDRESS = %q, want %q", got, b.Addr)
	}
	if !slices.Contains(b.Env(), "DBUS_SESSION_BUS_ADDRESS="+b.Addr) {
		t.Errorf("Env() lacks the bus address")
	}

	// The empty service folder: asking for an absent service fails at once
	// instead of activating it.
	conn := b.Conn(t)
	err := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets").Call("org.freedesktop.DBus.Peer.Ping", 0).Err
	var dbusErr dbus.Error
	if !errors.As(err, &dbusErr) || dbusErr.Name != "org.freedesktop.DBus.Error.ServiceUnknown" {
		t.Fatalf("calling an absent service: %v, want org.freedesktop.DBus.Error.ServiceUnknown", err)
	}

	// A real command-line client sees the bus through Env.
	dbusSend := Require(t, "dbus-send")["dbus-send"]
	cmd := exec.Command(dbusSend, "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.GetId")
	cmd.Env = b.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dbus-send on the private bus: %v: %s", err, out)
	}
}

func TestWaitForNameSeesOwnerComeAndGo(t *testing.T) {
	b := StartBus(t)
	const name = "org.clearway.DesktopTest"
	if b.HasOwner(t, name) {
		t.Fatalf("%s owned before anyone asked for it", name)
	}
	owner := b.Conn(t)
	go func() {
		// Own the name while WaitForName is already polling.
		_, _ = owner.RequestName(name, dbus.NameFlagDoNotQueue)
	}()
	b.WaitForName(t, name, 5*time.Second)
	if !b.HasOwner(t, name) {
		t.Fatalf("HasOwner(%s) = false after WaitForName", name)
	}
	if _, err := owner.ReleaseName(name); err != nil {
		t.Fatal(err)
	}
	b.WaitForNameGone(t, name, 5*time.Second)
}

func TestBusCleanupStopsDaemonAndSharedConnection(t *testing.T) {
	var addr string
	var pid int
	t.Run("with bus", func(t *testing.T) {
		b := StartBus(t)
		addr, pid = b.Addr, b.proc.cmd.Process.Pid
		shared, err := dbus.SessionBus()
		if err != nil {
			t.Fatalf("dbus.SessionBus on the private bus: %v", err)
		}
		if !b.HasOwner(t, shared.Names()[0]) {
			t.Fatalf("the shared session connection %s is not on the private bus", shared.Names()[0])
		}
	})
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("dbus-daemon %d still exists after cleanup (kill 0: %v)", pid, err)
	}
	if conn, err := dbus.Connect(addr); err == nil {
		conn.Close()
		t.Errorf("the bus %s still accepts connections after cleanup", addr)
	}
	// The shared connection was dropped: with the address pointing at the
	// dead bus, godbus does not hand out the stale connection.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	if conn, err := dbus.SessionBus(); err == nil {
		t.Errorf("dbus.SessionBus still returns a connection (%v) after its bus stopped", conn.Names())
	}
}

func TestKeyringStoresLocksUnlocksAndStops(t *testing.T) {
	b := StartBus(t)
	k := StartKeyring(t, b)
	if os.Getenv("HOME") != k.Home || os.Getenv("XDG_RUNTIME_DIR") != k.RuntimeDir {
		t.Fatalf("HOME=%q XDG_RUNTIME_DIR=%q, want %q and %q", os.Getenv("HOME"), os.Getenv("XDG_RUNTIME_DIR"), k.Home, k.RuntimeDir)
	}
	if fi, err := os.Stat(k.RuntimeDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("XDG_RUNTIME_DIR %s: %v, mode %v, want 0700", k.RuntimeDir, err, fi.Mode().Perm())
	}

	if v, ok := k.Lookup(t, "desktoptest", "absent"); ok {
		t.Fatalf("Lookup of an absent secret = %q, true", v)
	}
	const secret = "s3cret value\twith tab"
	k.Store(t, "desktoptest", "alice", secret)
	if v, ok := k.Lookup(t, "desktoptest", "alice"); !ok || v != secret {
		t.Fatalf("Lookup = %q, %v; want %q, true", v, ok, secret)
	}
	if _, err := os.Stat(k.KeyringFile()); err != nil {
		t.Errorf("the login keyring is not in the temporary HOME: %v", err)
	}

	k.Lock(t)
	if v, ok := k.Lookup(t, "desktoptest", "alice"); ok {
		t.Fatalf("Lookup on a locked keyring = %q, true; want not found", v)
	}
	k.Unlock(t)
	if v, ok := k.Lookup(t, "desktoptest", "alice"); !ok || v != secret {
		t.Fatalf("Lookup after Unlock = %q, %v; want %q, true", v, ok, secret)
	}

	k.Stop(t)
	if b.HasOwner(t, SecretServiceName) {
		t.Fatalf("%s still owned after Stop", SecretServiceName)
	}
	k.Stop(t) // idempotent
}

func TestXvfbRunsAndStops(t *testing.T) {
	xprop := Require(t, "xprop")["xprop"]
	var display string
	t.Run("with Xvfb", func(t *testing.T) {
		display = StartXvfb(t)
		if os.Getenv("DISPLAY") != display {
			t.Fatalf("DISPLAY = %q, want %q", os.Getenv("DISPLAY"), display)
		}
		out, err := exec.Command(xprop, "-display", display, "-root", "_NET_SUPPORTED").CombinedOutput()
		if err != nil {
			t.Fatalf("xprop on %s: %v: %s", display, err, out)
		}
	})
	if out, err := exec.Command(xprop, "-display", display, "-root").CombinedOutput(); err == nil {
		t.Errorf("the X server %s still answers after cleanup: %s", display, out)
	}
}

func TestRecorderRecordsARealClient(t *testing.T) {
	notifySend := Require(t, "notify-send")["notify-send"]
	b := StartBus(t)
	rec := StartNotificationRecorder(t, b)

	// A real client: libnotify's notify-send, with an action, waiting for it.
	cmd := exec.Command(notifySend, "--app-name=clearway-test", "--urgency=critical", "--category=network.error",
		"--print-id", "--action=retry=Retry now", "Upstream failing", "anthropic: 3 retries")
	cmd.Env = b.Env()
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	got := rec.WaitFor(t, func(ns []Notification) bool { return len(ns) == 1 }, 10*time.Second)
	n := got[0]
	if n.AppName != "clearway-test" || n.Summary != "Upstream failing" || n.Body != "anthropic: 3 retries" {
		t.Errorf("recorded %+v", n)
	}
	if !slices.Equal(n.Actions, []string{"retry", "Retry now"}) {
		t.Errorf("actions = %q, want [retry, Retry now]", n.Actions)
	}
	if u, ok := n.Hints["urgency"].Value().(byte); !ok || u != 2 {
		t.Errorf("urgency hint = %v, want byte 2", n.Hints["urgency"])
	}
	if c, _ := n.Hints["category"].Value().(string); c != "network.error" {
		t.Errorf("category hint = %v, want network.error", n.Hints["category"])
	}

	// Clicking the action reaches the client: notify-send prints the ID and
	// the action key, then exits (its output is buffered until then).
	rec.InvokeAction(t, n.ID, "retry")
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("notify-send: %v", err)
		}
	case <-timeout.C:
		t.Fatal("notify-send did not exit within 10s of the action")
	}
	if want := fmt.Sprintf("%d\nretry\n", n.ID); stdout.String() != want {
		t.Fatalf("notify-send printed %q, want %q", stdout.String(), want)
	}
	if ns := rec.Notifications(); !ns[0].Closed || ns[0].CloseReason != ClosedDismissed {
		t.Errorf("after the action: closed=%v reason=%d, want dismissed", ns[0].Closed, ns[0].CloseReason)
	}
}

func TestRecorderServerMethodsAndSignals(t *testing.T) {
	b := StartBus(t)
	rec := StartNotificationRecorder(t, b)
	client := b.Conn(t)
	obj := client.Object(NotificationsName, NotificationsPath)

	var caps []string
	if err := obj.Call(NotificationsIface+".GetCapabilities", 0).Store(&caps); err != nil || !slices.Contains(caps, "actions") {
		t.Fatalf("GetCapabilities = %v, %v", caps, err)
	}
	rec.SetCapabilities("body")
	if err := obj.Call(NotificationsIface+".GetCapabilities", 0).Store(&caps); err != nil || !slices.Equal(caps, []string{"body"}) {
		t.Fatalf("GetCapabilities after SetCapabilities = %v, %v", caps, err)
	}
	var name, vendor, version, spec string
	if err := obj.Call(NotificationsIface+".GetServerInformation", 0).Store(&name, &vendor, &version, &spec); err != nil || spec != "1.2" {
		t.Fatalf("GetServerInformation = %q %q %q %q, %v", name, vendor, version, spec, err)
	}

	if err := client.AddMatchSignal(dbus.WithMatchInterface(NotificationsIface)); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 10)
	client.Signal(signals)

	var id uint32
	err := obj.Call(NotificationsIface+".Notify", 0, "app", uint32(0), "", "first", "", []string{}, map[string]dbus.Variant{}, int32(-1)).Store(&id)
	if err != nil || id == 0 {
		t.Fatalf("Notify = %d, %v", id, err)
	}
	var replaced uint32
	err = obj.Call(NotificationsIface+".Notify", 0, "app", id, "", "second", "", []string{}, map[string]dbus.Variant{}, int32(-1)).Store(&replaced)
	if err != nil || replaced != id {
		t.Fatalf("Notify replacing %d = %d, %v", id, replaced, err)
	}
	if err := obj.Call(NotificationsIface+".CloseNotification", 0, id).Err; err != nil {
		t.Fatal(err)
	}
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	select {
	case s := <-signals:
		if s.Name != NotificationsIface+".NotificationClosed" || s.Body[0] != id || s.Body[1] != ClosedByCall {
			t.Fatalf("signal %s %v, want NotificationClosed(%d, 3)", s.Name, s.Body, id)
		}
	case <-timeout.C:
		t.Fatal("no NotificationClosed signal within 10s")
	}
	ns := rec.Notifications()
	if len(ns) != 2 || ns[1].Summary != "second" || ns[1].ReplacesID != id || ns[0].Sender != client.Names()[0] {
		t.Fatalf("recorded %+v", ns)
	}
}

func TestDunstShowsRealNotifications(t *testing.T) {
	notifySend := Require(t, "notify-send")["notify-send"]
	StartXvfb(t)
	b := StartBus(t)
	d := StartDunst(t, b)

	cmd := exec.Command(notifySend, "--app-name=clearway-test", "Recovered", "anthropic answers again")
	cmd.Env = b.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("notify-send to dunst: %v: %s", err, out)
	}
	d.WaitDisplayed(t, 1, 10*time.Second)
	d.CloseAll(t)
	d.WaitDisplayed(t, 0, 10*time.Second)
	h := d.History(t)
	if len(h) != 1 || h[0].Summary != "Recovered" || h[0].Body != "anthropic answers again" || h[0].AppName != "clearway-test" {
		t.Fatalf("dunst history = %+v", h)
	}
}
