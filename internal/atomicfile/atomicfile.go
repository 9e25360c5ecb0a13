// Package atomicfile replaces files so that a crash at any moment leaves the
// old file or the new one, never a torn one. Every file clearway writes
// (cookie jars, exports, preferences, the instance info file, autostart
// entries) goes through WriteFile.
//
// It is hand-written rather than github.com/google/renameio because
// renameio does not support Windows, and one helper for every OS is the
// point; on Unix it does what renameio does.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrSymlink is matched (errors.Is) by WriteFile's error when path is a
// symbolic link. WriteFile never writes through a link nor replaces one: a
// link planted where clearway keeps a secret (the cookie jar) must not make
// it write the secret elsewhere or with another owner's permissions. The
// hardening of the data folder (issue 12) relies on this refusal.
var ErrSymlink = errors.New("is a symbolic link; clearway will not write through or replace it (remove the link)")

// WriteFile replaces path with data and gives it mode perm (on Windows only
// the read-only bit of perm means anything): a temporary file in the same
// folder is written, fsynced and renamed over path (MoveFileEx with
// MOVEFILE_REPLACE_EXISTING on Windows), then the folder is fsynced where the
// OS can (not on Windows). The folder must exist. path must not be a
// symbolic link (ErrSymlink). On error path is unchanged and no temporary
// file is left. Errors name path. Safe for concurrent use on different
// paths; concurrent writers of one path each land whole, the last rename
// wins.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("write %s: %w", path, ErrSymlink)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempSuffix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	if err := writeSync(f, data, perm); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// WriteNew is WriteFile for a file that must not be replaced: it creates
// path with data and mode perm only if nothing is there, and returns an error
// matching fs.ErrExist otherwise, so that two processes creating the same
// file at once agree on the first one. The file appears whole or not at all
// (a hard link of the synced temporary file; where the file system has no
// hard links, a rename when path is still absent, which may replace a file
// created at the same instant). Like WriteFile it refuses a symbolic link
// at path (ErrSymlink) and needs the folder to exist.
func WriteNew(path string, data []byte, perm fs.FileMode) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("write %s: %w", path, ErrSymlink)
		}
		return fmt.Errorf("write %s: %w", path, fs.ErrExist)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempSuffix+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := writeSync(f, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = os.Link(tmp, path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		if _, statErr := os.Lstat(path); errors.Is(statErr, fs.ErrNotExist) {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// writeSync sets perm, writes data, fsyncs and closes f.
func writeSync(f *os.File, data []byte, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if runtime.GOOS == "windows" {
		err = nil // only the read-only bit exists there; the temp file is writable
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// syncDir makes a rename in dir durable. Windows cannot fsync a folder, and
// some file systems cannot either; the rename is still atomic there.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// tempSuffix follows "."+base in the names of WriteFile's temporary files:
// ".<base>.tmp-<digits>".
const tempSuffix = ".tmp-"

// RemoveTemps deletes the temporary files that writes of path interrupted by
// a crash left in its folder, and returns how many it removed. It knows
// WriteFile's names and the ".<base><digits>" names of the renameio-based
// writer of earlier versions; it never touches anything else. Call it while
// no write of path is under way (at open).
func RemoveTemps(path string) int {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		rest = strings.TrimPrefix(rest, tempSuffix)
		if !ok || rest == "" || !e.Type().IsRegular() || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			removed++
		}
	}
	return removed
}
