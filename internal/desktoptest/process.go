package desktoptest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stopGrace is how long a stopped service gets to exit after SIGTERM before
// its process group is killed.
const stopGrace = 5 * time.Second

// startTimeout bounds how long a service may take to come up.
const startTimeout = 15 * time.Second

// process is a service started in its own process group, its output going to
// a log file in the test's temporary folder.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once Wait has returned
	waitErr error         // valid after done is closed

	stopOnce sync.Once
}

// startProcess starts cmd in a new process group with its standard output
// and error appended to a log file, and returns at once. The caller must
// register p.stop with t.Cleanup.
func startProcess(t testing.TB, name string, cmd *exec.Cmd) (*process, error) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	if cmd.Stdout == nil {
		cmd.Stdout = logFile
	}
	if cmd.Stderr == nil {
		cmd.Stderr = logFile
	}
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exitedErr returns a non-nil error describing the exit if the process has
// already exited, nil while it runs.
func (p *process) exitedErr() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited early (%v); its output:\n%s", p.name, p.waitErr, p.output())
	default:
		return nil
	}
}

// output returns the tail of what the process wrote, for failure messages.
func (p *process) output() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// stop sends SIGTERM to the process group, waits up to stopGrace, then kills
// the group. It is idempotent and safe to call from several goroutines.
func (p *process) stop(t testing.TB) {
	t.Helper()
	p.stopOnce.Do(func() {
		pid := p.cmd.Process.Pid
		_ = signalGroup(pid, sigTerm)
		timer := time.NewTimer(stopGrace)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			t.Logf("desktoptest: %s did not stop within %v after SIGTERM; killing its process group", p.name, stopGrace)
			_ = signalGroup(pid, sigKill)
			<-p.done
		}
		// Children that outlived the leader are in the same group.
		_ = signalGroup(pid, sigKill)
	})
}

// readLine reads one line from r, giving up after timeout or when the
// process exits first. r is closed on return.
func readLine(r *os.File, p *process, timeout time.Duration) (string, error) {
	defer r.Close()
	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	_ = r.SetReadDeadline(time.Now().Add(timeout))
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		ch <- result{strings.TrimSpace(line), err}
	}()
	res := <-ch
	if res.err != nil && res.line == "" {
		if err := p.exitedErr(); err != nil {
			return "", err
		}
		if errors.Is(res.err, os.ErrDeadlineExceeded) {
			return "", fmt.Errorf("%s printed nothing within %v; its output:\n%s", p.name, timeout, p.output())
		}
		return "", fmt.Errorf("read from %s: %w; its output:\n%s", p.name, res.err, p.output())
	}
	return res.line, nil
}

// shortTempDir returns a new temporary folder whose path is short enough for
// Unix socket addresses (108 bytes on Linux), removed at cleanup. It prefers
// t.TempDir() and falls back to a short folder in /tmp when the test's name
// makes that too long.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) <= 60 {
		return dir
	}
	dir, err := os.MkdirTemp("/tmp", "dt-")
	if err != nil {
		t.Fatalf("desktoptest: create socket folder: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
