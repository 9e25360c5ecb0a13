//go:build !windows

package cookiejar

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearway/clearway/internal/privdir"
)

// TestLinkedJarFileNotFollowed: cookies.json linked to another file. Open
// refuses it (the caller falls back to memory and says so) instead of
// chmodding the target to 0600 and reading it; a save refuses to replace
// the link.
func TestLinkedJarFileNotFollowed(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "clearway")
	os.Mkdir(dir, 0o700)
	target := filepath.Join(root, "victim")
	os.WriteFile(target, []byte(`{"version":1,"upstreams":{}}`), 0o644)
	os.Chmod(target, 0o644)
	path := filepath.Join(dir, "cookies.json")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Path: path}); !errors.Is(err, privdir.ErrNotPrivate) {
		t.Errorf("Open through a link: %v, want ErrNotPrivate", err)
	}
	if st, _ := os.Stat(target); st.Mode().Perm() != 0o644 {
		t.Errorf("the link's target was chmodded to %#o", st.Mode().Perm())
	}
}

// TestWorldWritableJarFolderRefused: the jar's folder others can write is
// refused with the chmod that fixes it.
func TestWorldWritableJarFolderRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "clearway")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	if _, err := Open(Options{Path: filepath.Join(dir, "cookies.json")}); !errors.Is(err, privdir.ErrUnsafe) {
		t.Errorf("Open in a 0777 folder: %v", err)
	}
}
