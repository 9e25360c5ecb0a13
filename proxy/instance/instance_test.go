package instance

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecondProcessIsRefused takes the lock in a REAL child process and checks
// that this process is refused with the child's PID and address, then gets the
// lock once the child is gone.
func TestSecondProcessIsRefused(t *testing.T) {
	if os.Getenv("INSTANCE_TEST_CHILD") == "1" {
		l, err := Acquire(os.Getenv("INSTANCE_TEST_DIR"), Info{PID: os.Getpid(), Started: time.Now()})
		if err != nil {
			os.Stdout.WriteString("ERR " + err.Error() + "\n")
			os.Exit(3)
		}
		_ = l.SetAddr("127.0.0.1:9999")
		os.Stdout.WriteString("LOCKED\n")
		var b [1]byte
		_, _ = os.Stdin.Read(b[:]) // hold the lock until the parent closes stdin
		os.Exit(0)
	}
	dir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondProcessIsRefused$")
	cmd.Env = append(os.Environ(), "INSTANCE_TEST_CHILD=1", "INSTANCE_TEST_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "LOCKED") {
		t.Fatalf("child said %q", buf[:n])
	}
	info, err := Read(dir)
	if err != nil || info.PID != cmd.Process.Pid || info.Addr != "127.0.0.1:9999" {
		t.Fatalf("Read = %+v, %v; want pid %d", info, err, cmd.Process.Pid)
	}
	_, err = Acquire(dir, Info{PID: os.Getpid()})
	var re *RunningError
	if !errors.As(err, &re) || !errors.Is(err, ErrRunning) {
		t.Fatalf("second Acquire: %v, want RunningError", err)
	}
	for _, want := range []string{"already running", "127.0.0.1:9999", dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(dir, Info{PID: os.Getpid()})
	if err != nil {
		t.Fatalf("after the child exited: %v", err)
	}
	defer l.Release()
	st, err := os.Stat(filepath.Join(dir, LockName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode: %v %v", st.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, InfoName)); err != nil {
		t.Fatalf("no info file while held: %v", err)
	}
	if dst, _ := os.Stat(dir); dst.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v, want 0700", dst.Mode().Perm())
	}
}

func TestReadWhenNotRunning(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("empty dir: %v", err)
	}
	l, err := Acquire(dir, Info{PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	if _, err := Read(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("after release: %v", err)
	}
}
