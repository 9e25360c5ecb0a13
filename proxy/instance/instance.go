// Package instance makes sure only one clearway runs per data folder, and lets
// other clearway commands find the running one (its address and PID).
package instance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// LockName is the lock file's name inside the data folder.
const LockName = "clearway.lock"

// Info describes a running instance. It is written into the lock file; it
// holds no secret.
type Info struct {
	PID     int       `json:"pid"`
	Addr    string    `json:"addr,omitempty"` // where it serves; "" until it listens
	Started time.Time `json:"started"`
	Version string    `json:"version,omitempty"`
}

// ErrRunning is matched (errors.Is) by the *RunningError Acquire returns.
var ErrRunning = errors.New("clearway is already running")

// RunningError says another instance holds the data folder.
type RunningError struct {
	Dir  string
	Info Info // what the other instance wrote; zero fields when unreadable
}

func (e *RunningError) Error() string {
	where := ""
	if e.Info.PID > 0 {
		where = fmt.Sprintf(" (pid %d", e.Info.PID)
		if e.Info.Addr != "" {
			where += ", serving on " + e.Info.Addr
		}
		where += ")"
	}
	return fmt.Sprintf("clearway is already running for %s%s: use that one, or quit it first", e.Dir, where)
}

// Is makes errors.Is(err, ErrRunning) true.
func (e *RunningError) Is(target error) bool { return target == ErrRunning }

// Lock is a held instance lock. Its zero value is not useful; get one from
// Acquire. Not safe for concurrent use.
type Lock struct {
	fl   *flock.Flock
	path string
	info Info
}

// Acquire takes the lock for dir (created 0700 if missing). When another
// process holds it, the error is a *RunningError with that process's Info.
func Acquire(dir string, info Info) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	path := filepath.Join(dir, LockName)
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("instance: lock %s: %w", path, err)
	}
	if !ok {
		other, _ := Read(dir)
		return nil, &RunningError{Dir: dir, Info: other}
	}
	l := &Lock{fl: fl, path: path, info: info}
	if err := l.write(); err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return l, nil
}

// SetAddr records where the instance serves, for other commands to find.
func (l *Lock) SetAddr(addr string) error {
	l.info.Addr = addr
	return l.write()
}

func (l *Lock) write() error {
	b, err := json.Marshal(l.info)
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	// The lock file is rewritten in place: renaming would replace the inode
	// other processes lock on.
	if err := os.WriteFile(l.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("instance: write %s: %w", l.path, err)
	}
	return nil
}

// Release unlocks and clears the info. Safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	_ = os.WriteFile(l.path, nil, 0o600)
	err := l.fl.Unlock()
	l.fl = nil
	return err
}

// Read returns the Info of the instance holding dir's lock. It returns
// ErrNotRunning when no process holds the lock (a stale file is ignored).
func Read(dir string) (Info, error) {
	path := filepath.Join(dir, LockName)
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY))
	ok, err := fl.TryRLock()
	if err == nil && ok {
		_ = fl.Unlock()
		return Info{}, ErrNotRunning
	}
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, ErrNotRunning
	}
	b, rerr := os.ReadFile(path)
	if rerr != nil {
		return Info{}, fmt.Errorf("instance: %w", rerr)
	}
	var info Info
	if len(b) > 0 {
		if err := json.Unmarshal(b, &info); err != nil {
			return Info{}, fmt.Errorf("instance: %s: %w", path, err)
		}
	}
	return info, nil
}

// ErrNotRunning says no instance holds the lock.
var ErrNotRunning = errors.New("clearway is not running")
