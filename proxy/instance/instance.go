// Package instance makes sure only one clearway runs per data folder, and lets
// other clearway commands find the running one (its address and PID).
package instance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/clearway/clearway/internal/atomicfile"
	"github.com/clearway/clearway/internal/privdir"
	"github.com/gofrs/flock"
)

// LockName is the lock file's name inside the data folder. It stays empty:
// on Windows a locked byte range cannot be read or written through another
// handle, so the instance's details live in InfoName beside it.
const LockName = "clearway.lock"

// acquireGrace is how long Acquire retries a lock held by someone else before
// it concludes another instance runs.
const acquireGrace = time.Second

// InfoName is the file, beside the lock, where the running instance says where
// it serves. It is replaced atomically, so a reader never sees half of it.
const InfoName = "instance.json"

// Info describes a running instance. It is written into the lock file; it
// holds no secret.
type Info struct {
	PID  int    `json:"pid"`
	Addr string `json:"addr,omitempty"` // where it serves; "" until it listens
	// Socket is the unix socket where its admin endpoints answer the same
	// user only (Linux, macOS); "" when there is none. Commands prefer it to
	// Addr: a TCP port can be squatted by another user, this cannot.
	Socket  string    `json:"socket,omitempty"`
	Started time.Time `json:"started"`
	Version string    `json:"version,omitempty"`
	// ClientToken says whether the instance requires the client token on its
	// endpoints (its config's client_token), so other commands know whether
	// to send it.
	ClientToken bool `json:"client_token"`
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
	dir  string
	info Info
}

// Acquire takes the lock for dir (created 0700 if missing; refused when
// others can write it or another user owns it: privdir.Ensure). A lock file
// that is a symbolic link, belongs to someone else or others can write is
// refused, never used. When another process holds it, the error is a
// *RunningError with that process's Info.
func Acquire(dir string, info Info) (*Lock, error) {
	if _, err := privdir.Ensure(dir); err != nil {
		return nil, fmt.Errorf("instance: %w", err)
	}
	path := filepath.Join(dir, LockName)
	if err := privdir.CheckFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("instance: %w", err)
	}
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR|privdir.NoFollow), flock.SetPermissions(0o600))
	// Read probes the lock with a shared lock for a moment; keep trying for a
	// short while so that a `clearway status` racing our start-up cannot make
	// us believe another instance runs.
	var ok bool
	var err error
	for deadline := time.Now().Add(acquireGrace); ; {
		ok, err = fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("instance: lock %s: %w", path, err)
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !ok {
		other, _ := Read(dir)
		return nil, &RunningError{Dir: dir, Info: other}
	}
	l := &Lock{fl: fl, dir: dir, info: info}
	if err := l.write(); err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return l, nil
}

// SetAddr records where the instance serves ("" while its proxy is stopped),
// for other commands to find.
func (l *Lock) SetAddr(addr string) error {
	l.info.Addr = addr
	return l.write()
}

// SetEndpoints records the TCP address and the admin socket ("" for none)
// in one write.
func (l *Lock) SetEndpoints(addr, socket string) error {
	l.info.Addr, l.info.Socket = addr, socket
	return l.write()
}

// write replaces the info file atomically (atomicfile.WriteFile).
func (l *Lock) write() error {
	b, err := json.Marshal(l.info)
	if err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	path := filepath.Join(l.dir, InfoName)
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("instance: %w", err)
	}
	return nil
}

// Release removes the info file and unlocks. Safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	_ = os.Remove(filepath.Join(l.dir, InfoName))
	err := l.fl.Unlock()
	l.fl = nil
	return err
}

// Read returns the Info of the instance holding dir's lock. It returns
// ErrNotRunning when no process holds the lock (a stale info file is ignored).
//
// Other commands send the client token to the address Read returns, so it
// trusts nothing another user could have planted: the folder must be the
// user's and not writable by others, and the lock and info files regular
// files of the user's that others cannot write, never links. Anything else
// is an error matching ErrUntrusted that says what is wrong and how to fix it.
func Read(dir string) (Info, error) {
	path := filepath.Join(dir, LockName)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return Info{}, ErrNotRunning
	}
	if _, err := privdir.Check(dir); err != nil {
		return Info{}, fmt.Errorf("instance: %w: %w", ErrUntrusted, err)
	}
	if err := privdir.CheckFile(path); err != nil {
		return Info{}, fmt.Errorf("instance: %w: %w", ErrUntrusted, err)
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY|privdir.NoFollow))
	ok, err := fl.TryRLock()
	if err == nil && ok {
		_ = fl.Unlock()
		return Info{}, ErrNotRunning
	}
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, ErrNotRunning
	}
	var info Info
	f, rerr := privdir.OpenFile(filepath.Join(dir, InfoName), os.O_RDONLY, 0o600)
	if errors.Is(rerr, privdir.ErrNotPrivate) {
		return Info{}, fmt.Errorf("instance: %w: %w", ErrUntrusted, rerr)
	}
	if rerr != nil {
		// Held, but the info is not written yet: running, details unknown.
		return info, nil
	}
	b, rerr := io.ReadAll(io.LimitReader(f, 64<<10))
	f.Close()
	if rerr != nil {
		return info, nil
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("instance: %s: %w", filepath.Join(dir, InfoName), err)
	}
	return info, nil
}

// ErrUntrusted is matched by Read's error when the lock, the info file or
// their folder could have been planted by another user.
var ErrUntrusted = errors.New("not trusting the instance files")

// ErrNotRunning says no instance holds the lock.
var ErrNotRunning = errors.New("clearway is not running")
