//go:build !windows

package logfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearway/clearway/internal/privdir"
)

// TestRotatesWhileRunning: 11 MiB written through one open writer leave a
// rotated file and a current one under 10 MiB (before: rotation only at
// start, so a running clearway grew its log without bound).
func TestRotatesWhileRunning(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clearway")
	w, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range 11 << 10 {
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	entries, _ := os.ReadDir(dir)
	var rotated int
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", e.Name(), fi.Mode().Perm())
		}
		if e.Name() != Name && strings.HasPrefix(e.Name(), "clearway-") {
			rotated++
		}
	}
	st, err := os.Stat(filepath.Join(dir, Name))
	if err != nil || st.Size() >= MaxSizeMiB<<20 || rotated != 1 {
		t.Errorf("after 11 MiB: current %v (%v), %d rotated files; want < 10 MiB and 1", st.Size(), err, rotated)
	}
}

// TestLooseModesFixed: a pre-existing 0644 log in a 0755 folder becomes
// 0600 in 0700, and Open says so.
func TestLooseModesFixed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clearway")
	os.Mkdir(dir, 0o755)
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, Name)
	os.WriteFile(path, []byte("old\n"), 0o644)
	os.Chmod(path, 0o644)
	w, fixed, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if len(fixed) != 2 {
		t.Errorf("fixed = %q, want the folder and the file", fixed)
	}
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %#o", d.Mode().Perm())
	}
	if f, _ := os.Stat(path); f.Mode().Perm() != 0o600 {
		t.Errorf("file mode %#o", f.Mode().Perm())
	}
}

// TestSymlinkedLogRefused: clearway.log linked to a shell start-up file is
// refused and the target is untouched (before: appended through the link).
func TestSymlinkedLogRefused(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "clearway")
	os.Mkdir(dir, 0o700)
	rc := filepath.Join(root, ".bashrc")
	os.WriteFile(rc, []byte("# rc\n"), 0o644)
	if err := os.Symlink(rc, filepath.Join(dir, Name)); err != nil {
		t.Fatal(err)
	}
	_, _, err := Open(dir)
	if !errors.Is(err, privdir.ErrNotPrivate) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err %v, want a refusal of the link", err)
	}
	if b, _ := os.ReadFile(rc); string(b) != "# rc\n" {
		t.Errorf("the link's target changed: %q", b)
	}
	if st, _ := os.Stat(rc); st.Mode().Perm() != 0o644 {
		t.Errorf("the link's target mode changed: %#o", st.Mode().Perm())
	}
}

// TestWorldWritableFolderRefused names the folder and the chmod that fixes it.
func TestWorldWritableFolderRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clearway")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	_, _, err := Open(dir)
	if !errors.Is(err, privdir.ErrUnsafe) || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Fatalf("err %v", err)
	}
}
