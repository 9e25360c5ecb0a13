// Package logfile is clearway.log: a JSON log file in a private folder that
// rotates while clearway runs, so no client can fill the disk through it.
package logfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clearway/clearway/internal/privdir"
	"gopkg.in/natefinch/lumberjack.v2"
)

// Name is the log file's name inside its folder.
const Name = "clearway.log"

// Rotation: at MaxSizeMiB the file is renamed with a time stamp
// (clearway-2006-01-02T15-04-05.000.log) and a new one started; the
// MaxBackups newest old files are kept, so the log folder holds at most
// (MaxBackups+1) x 10 MiB.
const (
	MaxSizeMiB = 10
	MaxBackups = 3
)

// Open prepares dir (0700, see privdir.Ensure: refused when others can write
// it) and returns the writer of dir/clearway.log. An existing log that is a
// symbolic link or belongs to someone else is refused, never followed (a
// link to a shell start-up file would turn logged request paths into
// commands); one readable by others is set to 0600. Rotation
// (gopkg.in/natefinch/lumberjack.v2) happens while running, not only at
// start. fixed lists what was made private, for the caller to log. The
// writer is safe for concurrent use; Close it on exit.
func Open(dir string) (w io.WriteCloser, fixed []string, err error) {
	was, err := privdir.Ensure(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("log folder: %w", err)
	}
	if was != 0 {
		fixed = append(fixed, fmt.Sprintf("%s was mode %#o, now 0700", dir, was))
	}
	path := filepath.Join(dir, Name)
	before, statErr := os.Lstat(path)
	f, err := privdir.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fixed, fmt.Errorf("log file: %w", err)
	}
	f.Close()
	if statErr == nil && before.Mode().Perm()&0o077 != 0 {
		fixed = append(fixed, fmt.Sprintf("%s was mode %#o, now 0600", path, before.Mode().Perm()))
	}
	// lumberjack opens the file by name; the checks above and the private
	// folder (nobody else can put a link there) make that name safe.
	return &lumberjack.Logger{Filename: path, MaxSize: MaxSizeMiB, MaxBackups: MaxBackups}, fixed, nil
}
