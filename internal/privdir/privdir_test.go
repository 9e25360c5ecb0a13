//go:build !windows

package privdir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearway/clearway/internal/desktoptest"
)

// asRoot skips unless the test runs as root (CI does), which it needs to
// give a file to a second uid.
func asRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		desktoptest.Unmet(t, "this test needs root to chown to a second uid (CI runs as root)")
	}
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestEnsure(t *testing.T) {
	root := t.TempDir()
	fresh := filepath.Join(root, "a", "clearway")
	if was, err := Ensure(fresh); err != nil || was != 0 || mode(t, fresh) != 0o700 {
		t.Errorf("fresh: %v %#o mode %#o", err, was, mode(t, fresh))
	}
	readable := filepath.Join(root, "readable")
	os.Mkdir(readable, 0o755)
	os.Chmod(readable, 0o755)
	if was, err := Ensure(readable); err != nil || was != 0o755 || mode(t, readable) != 0o700 {
		t.Errorf("0755: %v %#o mode %#o", err, was, mode(t, readable))
	}
	for _, m := range []os.FileMode{0o777, 0o770, 0o702, 0o1777} {
		d := filepath.Join(root, "w"+m.String())
		os.Mkdir(d, 0o700)
		os.Chmod(d, m)
		_, err := Ensure(d)
		if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "chmod 700 "+d) {
			t.Errorf("mode %v: %v", m, err)
		}
	}
}

func TestEnsureForeignOwnerRefused(t *testing.T) {
	asRoot(t)
	d := filepath.Join(t.TempDir(), "clearway")
	os.Mkdir(d, 0o700)
	if err := os.Chown(d, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := Ensure(d)
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "uid 65534") || !strings.Contains(err.Error(), d) {
		t.Errorf("foreign folder: %v", err)
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("x"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	if _, err := OpenFile(link, os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, ErrNotPrivate) {
		t.Errorf("link: %v", err)
	}
	if mode(t, target) != 0o644 {
		t.Error("the link's target was chmodded")
	}
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, []byte("x"), 0o644)
	os.Chmod(loose, 0o644)
	f, err := OpenFile(loose, os.O_RDONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if mode(t, loose) != 0o600 {
		t.Errorf("loose file is %#o, want 0600", mode(t, loose))
	}
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("x"), 0o666)
	os.Chmod(open, 0o666)
	if _, err := OpenFile(open, os.O_RDONLY, 0o600); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-writable file: %v", err)
	}
}

func TestOpenFileForeignOwnerRefused(t *testing.T) {
	asRoot(t)
	p := filepath.Join(t.TempDir(), "instance.json")
	os.WriteFile(p, []byte("{}"), 0o600)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(p, os.O_RDONLY, 0o600); !errors.Is(err, ErrNotPrivate) || !strings.Contains(err.Error(), "uid 65534") {
		t.Errorf("foreign file: %v", err)
	}
}
