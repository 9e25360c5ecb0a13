// Package privdir keeps clearway's own folders private: created 0700, fixed
// to 0700 when only readable by others, and refused when others can write
// them or another user owns them (the model of jupyter_core's secure_write:
// a folder another local user can write lets them plant the files clearway
// trusts, or read its secrets). It also opens files in those folders
// without following symbolic links.
package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrUnsafe is matched (errors.Is) by Ensure's error when the folder is
// writable by others or owned by another user. The message names the folder
// and the command that fixes it.
var ErrUnsafe = errors.New("unsafe folder")

// Ensure creates dir (and its parents) with mode 0700 if it is missing, and
// checks it: a folder that others can read but not write is set to 0700
// (fixed reports it, with the mode it had); one that group or others can
// write, or that another user owns, is an error matching ErrUnsafe that says
// which chmod or chown fixes it. On Windows, where modes mean nothing, it
// only creates the folder. Safe for concurrent use.
func Ensure(dir string) (fixed fs.FileMode, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create folder %s: %w", dir, err)
	}
	return check(dir)
}

// Check checks dir like Ensure without creating it: a missing folder is an
// error matching fs.ErrNotExist; one others can write or another user owns
// matches ErrUnsafe. A folder only readable by others is set to 0700.
func Check(dir string) (fixed fs.FileMode, err error) { return check(dir) }

// NoFollow is the open flag that makes opening a symbolic link fail
// (O_NOFOLLOW), 0 where the OS has none (Windows). For openers that take
// flags but not an *os.File, such as a lock library.
const NoFollow = noFollow

// CheckFile checks an existing file at path without opening it for I/O and
// without following a link: it must be a regular file of this user that
// others cannot write (ErrNotPrivate otherwise). It does not change modes.
func CheckFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link; clearway does not follow links in its folders (remove it): %w", path, ErrNotPrivate)
	}
	return checkInfo(fi, path)
}

// ErrNotPrivate is matched by OpenFile's error when the file is not a plain
// file of the user's (a link, another owner, or writable by others).
var ErrNotPrivate = errors.New("is not a private file of this user")

// OpenFile opens path like os.OpenFile but never through a symbolic link
// (O_NOFOLLOW where the OS has it; a link is refused, not followed), and
// refuses an existing file that another user owns or others can write
// (ErrNotPrivate). A file readable by others is set to perm. Errors name path.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("open %s: is a symbolic link; clearway does not follow links in its folders (remove it): %w", path, ErrNotPrivate)
	}
	f, err := os.OpenFile(path, flag|noFollow, perm)
	if err != nil {
		if isLoop(err) {
			return nil, fmt.Errorf("open %s: is a symbolic link; clearway does not follow links in its folders (remove it): %w", path, ErrNotPrivate)
		}
		return nil, err
	}
	if err := checkFile(f, path, perm); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
