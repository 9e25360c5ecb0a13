package keychain

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
)

// These tests talk to a real gnome-keyring on a private session bus. They
// change the process environment (t.Setenv), so they cannot run in parallel.

// realStore returns the OS keychain Store, as New picks it by default.
func realStore(t *testing.T) Store {
	t.Helper()
	t.Setenv(BackendVar, "")
	s := New(Options{Timeout: DefaultTimeout})
	if s.Backend() != BackendKeyring {
		t.Fatalf("Backend() = %q, want %q", s.Backend(), BackendKeyring)
	}
	return s
}

// assertNotInFiles fails if secret appears in any file under dir (the
// keyring file is encrypted, so the plain value must not be there either).
func assertNotInFiles(t *testing.T, dir, secret string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("the secret is in plain text in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecretServiceRoundTrip(t *testing.T) {
	k := desktoptest.StartKeyring(t, desktoptest.StartBus(t))
	s := realStore(t)

	const name = "anthropic"
	const secret = "sk-ant-api03-Zx9_é ü \"quoted\" $HOME `tick`"
	if err := s.Set(name, secret); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get(name); err != nil || got != secret {
		t.Fatalf("Get = %q, %v; want %q", got, err, secret)
	}
	// Another Secret Service client sees exactly the value, under the
	// attributes service=clearway username=NAME.
	if got, ok := k.Lookup(t, Service, name); !ok || got != secret {
		t.Fatalf("secret-tool lookup service %s username %s = %q, %v; want %q", Service, name, got, ok, secret)
	}
	assertNotInFiles(t, k.Home, secret)

	// Set replaces.
	const replaced = "sk-ant-api03-second"
	if err := s.Set(name, replaced); err != nil {
		t.Fatalf("Set again: %v", err)
	}
	if got, ok := k.Lookup(t, Service, name); !ok || got != replaced {
		t.Fatalf("after replacing, secret-tool sees %q, %v; want %q", got, ok, replaced)
	}

	// What another client stores is read back.
	k.Store(t, Service, "openai", "sk-proj-from-secret-tool")
	if got, err := s.Get("openai"); err != nil || got != "sk-proj-from-secret-tool" {
		t.Fatalf("Get of an entry written by secret-tool = %q, %v", got, err)
	}

	if err := s.Delete(name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := k.Lookup(t, Service, name); ok {
		t.Fatalf("secret-tool still sees %s after Delete", name)
	}
	if _, err := s.Get(name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	err := s.Delete(name)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete of a missing entry: %v, want ErrNotFound", err)
	}
	t.Logf("deleting a missing entry: %v", err)
	if _, ok := k.Lookup(t, Service, "openai"); !ok {
		t.Fatalf("Delete(%s) removed another entry", name)
	}
}

func TestSecretServiceClientToken(t *testing.T) {
	k := desktoptest.StartKeyring(t, desktoptest.StartBus(t))
	s := realStore(t)

	tok, created, err := ClientToken(s)
	if err != nil || !created {
		t.Fatalf("first ClientToken = %v, %v; want created", created, err)
	}
	if !tokenPattern.MatchString(tok) {
		t.Fatalf("token %q is not 43 URL-safe characters", tok)
	}
	if got, ok := k.Lookup(t, Service, ClientTokenName); !ok || got != tok {
		t.Fatalf("secret-tool sees the token as %q, %v", got, ok)
	}
	again, created, err := ClientToken(s)
	if err != nil || created || again != tok {
		t.Fatalf("second ClientToken changed or recreated the token (created=%v, err=%v)", created, err)
	}

	rotated, err := RotateClientToken(s)
	if err != nil || rotated == tok || !tokenPattern.MatchString(rotated) {
		t.Fatalf("RotateClientToken: %v (same as before: %v)", err, rotated == tok)
	}
	if got, ok := k.Lookup(t, Service, ClientTokenName); !ok || got != rotated {
		t.Fatalf("after rotation secret-tool does not see the new token")
	}
	if got, created, err := ClientToken(s); err != nil || created || got != rotated {
		t.Fatalf("ClientToken after rotation does not return the new token (created=%v, err=%v)", created, err)
	}
	assertNotInFiles(t, k.Home, rotated)
}

func TestSecretServiceConcurrentUse(t *testing.T) {
	k := desktoptest.StartKeyring(t, desktoptest.StartBus(t))
	s := realStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name, secret := fmt.Sprintf("key%d", i), fmt.Sprintf("sk-%d", i)
			for range 5 {
				if err := s.Set(name, secret); err != nil {
					errs <- err
					return
				}
				if got, err := s.Get(name); err != nil || got != secret {
					errs <- fmt.Errorf("Get(%s) = %q, %v", name, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range 8 {
		if got, ok := k.Lookup(t, Service, fmt.Sprintf("key%d", i)); !ok || got != fmt.Sprintf("sk-%d", i) {
			t.Errorf("secret-tool sees key%d = %q, %v", i, got, ok)
		}
	}
}

func TestBusWithoutSecretServiceFailsFastAndClearly(t *testing.T) {
	desktoptest.StartBus(t) // no keyring on it
	s := realStore(t)

	start := time.Now()
	_, err := s.Get("anthropic")
	elapsed := time.Since(start)
	t.Logf("Get with no Secret Service: %v after %v", err, elapsed)
	if !errors.Is(err, ErrNoSecretService) {
		t.Fatalf("Get: %v, want ErrNoSecretService", err)
	}
	if errors.Is(err, ErrTimeout) {
		t.Fatalf("Get waited for the %v timeout instead of failing at once", DefaultTimeout)
	}
	for _, want := range []string{"no Secret Service on the session bus", "gnome-keyring", "KeePassXC", "CLEARWAY_KEYCHAIN=env"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if err := s.Set("anthropic", "sk-never-shown"); !errors.Is(err, ErrNoSecretService) || strings.Contains(err.Error(), "sk-never-shown") {
		t.Errorf("Set: %v, want ErrNoSecretService without the secret", err)
	}
	if _, _, err := ClientToken(s); !errors.Is(err, ErrNoSecretService) {
		t.Errorf("ClientToken: %v, want ErrNoSecretService", err)
	}
}

func TestDeadBusSocketGivesErrNoBus(t *testing.T) {
	dir := t.TempDir()
	// A socket file nobody listens on any more.
	sock := filepath.Join(dir, "bus")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)
	t.Setenv("PATH", t.TempDir()) // and no dbus-launch
	s := realStore(t)

	start := time.Now()
	_, err = s.Get("anthropic")
	t.Logf("Get with a dead bus socket: %v after %v", err, time.Since(start))
	if !errors.Is(err, ErrNoBus) {
		t.Fatalf("Get: %v, want ErrNoBus", err)
	}
	if !strings.Contains(err.Error(), "CLEARWAY_KEYCHAIN=env") || !strings.Contains(err.Error(), "DBUS_SESSION_BUS_ADDRESS") {
		t.Errorf("message %q does not say what to do", err)
	}
}

func TestNoBusAndNoDbusLaunchGivesErrNoBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no $XDG_RUNTIME_DIR/bus to discover
	t.Setenv("PATH", t.TempDir())            // no dbus-launch to start one
	s := realStore(t)

	start := time.Now()
	_, err := s.Get("anthropic")
	t.Logf("Get with no bus at all: %v after %v", err, time.Since(start))
	if !errors.Is(err, ErrNoBus) {
		t.Fatalf("Get: %v, want ErrNoBus", err)
	}
}

func TestSecretServiceStoppedMidRun(t *testing.T) {
	k := desktoptest.StartKeyring(t, desktoptest.StartBus(t))
	s := realStore(t)
	if err := s.Set("anthropic", "sk-before-stop"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	k.Stop(t)

	start := time.Now()
	_, err := s.Get("anthropic")
	t.Logf("Get after the keyring stopped: %v after %v", err, time.Since(start))
	if !errors.Is(err, ErrNoSecretService) {
		t.Fatalf("Get: %v, want ErrNoSecretService", err)
	}
	if err := s.Set("anthropic", "sk-after-stop"); !errors.Is(err, ErrNoSecretService) {
		t.Fatalf("Set: %v, want ErrNoSecretService", err)
	}
}

func TestLockedKeyringSaysToUnlock(t *testing.T) {
	k := desktoptest.StartKeyring(t, desktoptest.StartBus(t))
	s := realStore(t)
	if err := s.Set("anthropic", "sk-locked-away"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	k.Lock(t)

	start := time.Now()
	_, err := s.Get("anthropic")
	t.Logf("Get from a locked keyring: %v after %v", err, time.Since(start))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Get: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "unlock") || strings.Contains(err.Error(), "sk-locked-away") {
		t.Errorf("message %q does not say to unlock, or shows the secret", err)
	}
	if err := s.Set("openai", "sk-new"); !errors.Is(err, ErrLocked) {
		t.Errorf("Set into a locked keyring: %v, want ErrLocked", err)
	}

	k.Unlock(t)
	if got, err := s.Get("anthropic"); err != nil || got != "sk-locked-away" {
		t.Fatalf("Get after unlocking = %q, %v", got, err)
	}
}

func TestHangingSecretServiceTimesOut(t *testing.T) {
	k := desktoptest.StartKeyring(t, desktoptest.StartBus(t))
	t.Setenv(BackendVar, "")
	const timeout = 300 * time.Millisecond
	s := New(Options{Timeout: timeout})
	if err := s.Set("anthropic", "sk-frozen"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	k.Freeze(t) // the daemon keeps its bus name but answers nothing

	start := time.Now()
	_, err := s.Get("anthropic")
	t.Logf("Get from a frozen keyring: %v after %v", err, time.Since(start))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get: %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("message %q does not give the timeout", err)
	}

	// Once the keyring answers again, so does the store.
	k.Thaw(t)
	if got, err := s.Get("anthropic"); err != nil || got != "sk-frozen" {
		t.Fatalf("Get after thawing = %q, %v", got, err)
	}
}

// BenchmarkSecretServiceGet measures one Get from a real gnome-keyring,
// which is what a proxy polling for changed keys pays per key.
func BenchmarkSecretServiceGet(b *testing.B) {
	desktoptest.StartKeyring(b, desktoptest.StartBus(b))
	b.Setenv(BackendVar, "")
	s := New(Options{})
	if err := s.Set("anthropic", "sk-bench"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Get("anthropic"); err != nil {
			b.Fatal(err)
		}
	}
}
