//go:build !windows

package instance

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/privdir"
	"github.com/gofrs/flock"
)

// plant writes a lock and an info file pointing at addr, as another local
// user would, and holds the lock (so Read believes an instance runs).
func plant(t *testing.T, dir, addr string) {
	t.Helper()
	b, _ := json.Marshal(Info{PID: 1, Addr: addr, ClientToken: true, Started: time.Now()})
	if err := os.WriteFile(filepath.Join(dir, InfoName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	fl := flock.New(filepath.Join(dir, LockName), flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatalf("hold the planted lock: %v %v", ok, err)
	}
	t.Cleanup(func() { _ = fl.Unlock() })
}

// TestWorldWritableDataFolderNotTrusted: the token-theft attack of issue 12.
// Another user made the data folder world-writable and planted the lock and
// info: Read refuses (so the CLI never sends the token there), and Acquire
// refuses to run in it, naming the chmod that fixes it.
func TestWorldWritableDataFolderNotTrusted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clearway")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	plant(t, dir, "127.0.0.1:9")
	info, err := Read(dir)
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "chmod 700 "+dir) || info.Addr != "" {
		t.Errorf("Read: %+v %v, want ErrUntrusted with the chmod", info, err)
	}
	if _, err := Acquire(dir, Info{PID: os.Getpid()}); !errors.Is(err, privdir.ErrUnsafe) {
		t.Errorf("Acquire in a world-writable folder: %v", err)
	}
}

// TestForeignInstanceFilesNotTrusted: a lock and info owned by another uid
// (chown as root) in the user's own folder are not trusted.
func TestForeignInstanceFilesNotTrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs root to chown to a second uid")
		}
		t.Skip("SKIP (loud): needs root to chown to a second uid")
	}
	for _, which := range []string{LockName, InfoName} {
		t.Run(which, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "clearway")
			os.Mkdir(dir, 0o700)
			plant(t, dir, "127.0.0.1:9")
			if err := os.Chown(filepath.Join(dir, which), 65534, 65534); err != nil {
				t.Fatal(err)
			}
			info, err := Read(dir)
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "uid 65534") || info.Addr != "" {
				t.Errorf("Read with a foreign %s: %+v %v", which, info, err)
			}
		})
	}
}

// TestModeOfInstanceFilesChecked: an info file others can write is not
// trusted either.
func TestModeOfInstanceFilesChecked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clearway")
	os.Mkdir(dir, 0o700)
	plant(t, dir, "127.0.0.1:9")
	os.Chmod(filepath.Join(dir, InfoName), 0o666)
	if _, err := Read(dir); !errors.Is(err, ErrUntrusted) {
		t.Errorf("Read with a 0666 info file: %v", err)
	}
}

// TestSymlinkedLockRefused: clearway.lock linked elsewhere; Acquire refuses
// and creates nothing at the link's target.
func TestSymlinkedLockRefused(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "clearway")
	os.Mkdir(dir, 0o700)
	target := filepath.Join(root, "elsewhere")
	if err := os.Symlink(target, filepath.Join(dir, LockName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir, Info{PID: os.Getpid()}); !errors.Is(err, privdir.ErrNotPrivate) {
		t.Errorf("Acquire with a linked lock: %v", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the link's target was created: %v", err)
	}
	if _, err := Read(dir); !errors.Is(err, ErrUntrusted) {
		t.Errorf("Read with a linked lock: %v", err)
	}
}
