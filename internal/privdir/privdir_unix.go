//go:build !windows

package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

const noFollow = syscall.O_NOFOLLOW

func isLoop(err error) bool { return errors.Is(err, syscall.ELOOP) }

func check(dir string) (fs.FileMode, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, fmt.Errorf("check folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("%s is not a folder: %w", dir, ErrUnsafe)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && int(st.Uid) != os.Geteuid() {
		return 0, fmt.Errorf("folder %s belongs to uid %d, not to you (uid %d): another user could plant or read clearway's files there; remove it, or run `chown -R %d %s` as root: %w",
			dir, st.Uid, os.Geteuid(), os.Geteuid(), dir, ErrUnsafe)
	}
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return 0, fmt.Errorf("folder %s is writable by other users (mode %#o): they could replace clearway's files there; fix it with `chmod 700 %s`: %w",
			dir, mode, dir, ErrUnsafe)
	}
	if mode&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return 0, fmt.Errorf("folder %s is readable by other users (mode %#o) and could not be set to 0700: %w", dir, mode, err)
		}
		return mode, nil
	}
	return 0, nil
}

func checkFile(f *os.File, path string, perm fs.FileMode) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if err := checkInfo(fi, path); err != nil {
		return err
	}
	if mode := fi.Mode().Perm(); mode&^perm != 0 {
		if err := f.Chmod(perm); err != nil {
			return fmt.Errorf("open %s: readable by others (mode %#o) and could not be restricted: %w", path, mode, err)
		}
	}
	return nil
}

// checkInfo refuses what is not a regular file of this user that only the
// user can write.
func checkInfo(fi fs.FileInfo, path string) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("open %s: not a regular file: %w", path, ErrNotPrivate)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("open %s: belongs to uid %d, not to you (uid %d); remove it: %w", path, st.Uid, os.Geteuid(), ErrNotPrivate)
	}
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return fmt.Errorf("open %s: writable by other users (mode %#o); fix it with `chmod 600 %s`: %w", path, mode, path, ErrNotPrivate)
	}
	return nil
}
