package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/proxy/keychain"
)

// memKeys is an in-memory key store.
type memKeys struct {
	mu   sync.Mutex
	m    map[string]string
	err  error // every call fails with it when set
	gets atomic.Int32
}

func (k *memKeys) Get(name string) (string, error) {
	k.gets.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return "", k.err
	}
	v, ok := k.m[name]
	if !ok {
		return "", keychain.ErrNotFound
	}
	return v, nil
}

func (k *memKeys) Set(name, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[name] = secret
	return nil
}

func (k *memKeys) Delete(name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[name]; !ok {
		return keychain.ErrNotFound
	}
	delete(k.m, name)
	return nil
}

func (k *memKeys) Backend() string { return "memory" }

// fakeAutostart counts how often its state is read.
type fakeAutostart struct {
	on    atomic.Bool
	reads atomic.Int32
}

func (f *fakeAutostart) Enabled() bool     { f.reads.Add(1); return f.on.Load() }
func (f *fakeAutostart) Set(on bool) error { f.on.Store(on); return nil }

const testYAML = `listen: 127.0.0.1:0
client_token: false
upstreams:
  alpha:
    url: https://alpha.example
    key: alpha
  beta:
    url: https://beta.example
    key: shared
`

type testApp struct {
	*App
	builder   *fakeBuilder
	clock     *fakeClock
	keys      *memKeys
	autostart *fakeAutostart
	paths     Paths
}

func openTestApp(t *testing.T) *testApp {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(testYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	paths := Paths{Data: data, Cookies: filepath.Join(data, "cookies.json"), Logs: filepath.Join(dir, "logs"), Prefs: filepath.Join(dir, "prefs.json")}
	ta := &testApp{builder: &fakeBuilder{}, clock: newFakeClock(), keys: &memKeys{m: map[string]string{"alpha": "sk-alpha-SECRET"}},
		autostart: &fakeAutostart{}, paths: paths}
	ta.App, err = Open(Options{
		Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Paths: paths, Keys: ta.keys, Version: "1.2.3",
		Clock: ta.clock, Autostart: ta.autostart, Build: ta.builder.build,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ta.Close() })
	return ta
}

// waitSnapshot follows the snapshots until cond holds.
func waitSnapshot(t *testing.T, a *App, what string, cond func(view.Snapshot) bool) view.Snapshot {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s, next := a.Snapshot()
		if cond(s) {
			return s
		}
		select {
		case <-next:
		case <-deadline.C:
			t.Fatalf("waited for %s; last snapshot %+v", what, s)
		}
	}
}

func TestSnapshotFollowsTheLifecycle(t *testing.T) {
	a := openTestApp(t)
	s := waitSnapshot(t, a.App, "the keys read", func(s view.Snapshot) bool { return len(s.Keys) == 2 && s.Keys[0].Set })
	if s.Phase != view.Stopped || s.Version != "1.2.3" || len(s.Upstreams) != 2 || s.Upstreams[0].Name != "alpha" || !s.Notifications {
		t.Fatalf("stopped snapshot %+v", s)
	}
	if s.Keys[0].Name != "alpha" || !s.Keys[0].Set || s.Keys[1].Name != "shared" || s.Keys[1].Set {
		t.Fatalf("keys %+v", s.Keys)
	}
	at := a.clock.Advance(time.Minute)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	s = waitSnapshot(t, a.App, "running", func(s view.Snapshot) bool { return s.Phase == view.Running })
	if !s.Since.Equal(at) {
		t.Errorf("Since %v, want the clock's %v", s.Since, at)
	}
	a.builder.server(0).die <- errors.New("accept: too many open files")
	s = waitSnapshot(t, a.App, "failed", func(s view.Snapshot) bool { return s.Phase == view.Failed })
	if s.Problem != "accept: too many open files" {
		t.Errorf("Problem %q", s.Problem)
	}
}

// TestSnapshotIsComputedOnChangeOnly: reading snapshots reads no file and
// no keychain; the autostart state is read at Open and when toggled.
func TestSnapshotIsComputedOnChangeOnly(t *testing.T) {
	a := openTestApp(t)
	waitSnapshot(t, a.App, "the keys read", func(s view.Snapshot) bool { return len(s.Keys) == 2 && s.Keys[0].Set })
	reads, gets := a.autostart.reads.Load(), a.keys.gets.Load()
	first, _ := a.Snapshot()
	for range 1000 {
		if s, _ := a.Snapshot(); !sameSlices(s, first) {
			t.Fatal("a read without a change gave another snapshot")
		}
	}
	if a.autostart.reads.Load() != reads || a.keys.gets.Load() != gets {
		t.Fatalf("reads cost %d autostart and %d keychain calls", a.autostart.reads.Load()-reads, a.keys.gets.Load()-gets)
	}
	if err := a.SetPreference(view.StartAtLogin, true); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, a.App, "start at login on", func(s view.Snapshot) bool { return s.StartAtLogin })
	if got := a.autostart.reads.Load() - reads; got != 1 {
		t.Errorf("toggling read the autostart state %d times, want 1", got)
	}
	if err := a.SetPreference(view.Notifications, false); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, a.App, "notifications off", func(s view.Snapshot) bool { return !s.Notifications })
	if p := loadPrefs(a.paths.Prefs, a.log); p.Notifications {
		t.Error("notifications off was not saved")
	}
}

// sameSlices reports whether two snapshots share their slices (the same
// immutable value handed out again).
func sameSlices(a, b view.Snapshot) bool {
	return len(a.Upstreams) > 0 && &a.Upstreams[0] == &b.Upstreams[0] && &a.Keys[0] == &b.Keys[0]
}

func TestSetAndDeleteKeyRefreshTheSnapshot(t *testing.T) {
	a := openTestApp(t)
	if err := a.SetKey("shared", "sk-shared-SECRET"); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, a.App, "shared set", func(s view.Snapshot) bool { return len(s.Keys) == 2 && s.Keys[1].Set })
	if err := a.DeleteKey("shared"); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, a.App, "shared missing", func(s view.Snapshot) bool { return len(s.Keys) == 2 && !s.Keys[1].Set && s.Keys[0].Set })
	if err := a.DeleteKey("never-there"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if err := a.SetKey("bad name!", "x"); err == nil {
		t.Error("an invalid key name was accepted")
	}
	a.keys.mu.Lock()
	a.keys.err = errors.New("keyring locked")
	a.keys.mu.Unlock()
	a.kickKeys()
	s := waitSnapshot(t, a.App, "the keychain problem", func(s view.Snapshot) bool { return s.Problem != "" })
	if s.Problem != "Keychain: keyring locked" {
		t.Errorf("Problem %q", s.Problem)
	}
}

func TestStopDuringStartThroughTheApp(t *testing.T) {
	a := openTestApp(t)
	hold := make(chan struct{})
	a.builder.then(buildPlan{hold: hold})
	start := async(a.Start)
	waitSnapshot(t, a.App, "starting", func(s view.Snapshot) bool { return s.Phase == view.Starting })
	stop := async(a.Stop)
	waitSnapshot(t, a.App, "stopping", func(s view.Snapshot) bool { return s.Phase == view.Stopping })
	close(hold)
	_ = result(t, stop)
	_ = result(t, start)
	waitSnapshot(t, a.App, "stopped", func(s view.Snapshot) bool { return s.Phase == view.Stopped })
	if a.builder.open.Load() != 0 || a.builder.server(0).ran.Load() {
		t.Fatal("the server built after Stop was run")
	}
}

func TestServeEndsWithItsContextOrItsFailure(t *testing.T) {
	a := openTestApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := async(func() error { return a.Serve(ctx) })
	waitSnapshot(t, a.App, "running", func(s view.Snapshot) bool { return s.Phase == view.Running })
	cancel()
	if err := result(t, served); err != nil {
		t.Fatalf("Serve after cancel = %v", err)
	}
	if st, _ := a.lc.State(); st.Phase != view.Stopped {
		t.Fatalf("phase %v after Serve", st.Phase)
	}
	inUse := errors.New("listen: port in use")
	a.builder.then(buildPlan{listen: inUse})
	if err := a.Serve(context.Background()); !errors.Is(err, inUse) {
		t.Fatalf("Serve = %v, want the listen error", err)
	}
}

func TestOpenHoldsTheLockAndCloseSaves(t *testing.T) {
	a := openTestApp(t)
	if _, err := instance.Acquire(a.paths.Data, instance.Info{PID: 1}); !errors.Is(err, instance.ErrRunning) {
		t.Fatalf("a second lock: %v, want ErrRunning", err)
	}
	sub, cancel := a.Events(4)
	defer cancel()
	a.Bus().Publish(events.Event{Kind: events.Listening})
	if e := <-sub; e.Kind != events.Listening {
		t.Fatalf("event %v", e.Kind)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if a.builder.open.Load() != 0 {
		t.Fatal("Close left the server running")
	}
	lock, err := instance.Acquire(a.paths.Data, instance.Info{PID: 1})
	if err != nil {
		t.Fatalf("after Close the lock is still held: %v", err)
	}
	_ = lock.Release()
	if err := a.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

func TestWithCookiesHoldsTheLock(t *testing.T) {
	a := openTestApp(t)
	ran := false
	if err := WithCookies(a.cfg, a.paths, func(*cookiejar.Store) { ran = true }); !errors.Is(err, instance.ErrRunning) || ran {
		t.Fatalf("while the app runs: %v (ran %v), want ErrRunning and fn not run", err, ran)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WithCookies(a.cfg, a.paths, func(s *cookiejar.Store) { ran = s != nil }); err != nil || !ran {
		t.Fatalf("offline: %v (ran %v)", err, ran)
	}
}
