//go:build linux || darwin

package peercred

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as a client of another uid: with
// PEERCRED_DIAL set it connects to that socket, writes a line and reports
// whether an answer came back.
func TestMain(m *testing.M) {
	if path := os.Getenv("PEERCRED_DIAL"); path != "" {
		c, err := net.Dial("unix", path)
		if err != nil {
			os.Stdout.WriteString("DIAL-ERROR " + err.Error())
			os.Exit(0)
		}
		c.Write([]byte("hello\n"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 16)
		n, _ := c.Read(b)
		os.Stdout.WriteString("GOT " + strconv.Quote(string(b[:n])))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serve(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777) // so the other uid can reach the socket: the uid check alone must refuse it
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o777)
	var refused atomic.Int64
	pl := &Listener{Listener: ln, UID: os.Geteuid(), Refused: func(int, error) { refused.Add(1) }}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := pl.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("welcome"))
			c.Close()
		}
	}()
	return path, &refused
}

func dialAs(t *testing.T, path string, uid int) string {
	t.Helper()
	bin := os.Args[0]
	if uid != os.Geteuid() {
		// The test binary sits in a private build folder: copy it where the
		// other uid can run it.
		dir, err := os.MkdirTemp("", "pcbin")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		os.Chmod(dir, 0o755)
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(dir, "peercred.test")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PEERCRED_DIAL="+path)
	if uid != os.Geteuid() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child as uid %d: %v", uid, err)
	}
	return string(out)
}

func TestSameUserAccepted(t *testing.T) {
	path, refused := serve(t)
	if got := dialAs(t, path, os.Geteuid()); got != `GOT "welcome"` || refused.Load() != 0 {
		t.Errorf("same user: %s (refused %d)", got, refused.Load())
	}
}

// TestOtherUserRefused: a process of uid 65534 reaches the socket (its
// folder and mode are wide open here) and is closed before any byte.
func TestOtherUserRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs root to run a client as a second uid")
		}
		t.Skip("SKIP (loud): needs root to run a client as a second uid")
	}
	path, refused := serve(t)
	got := dialAs(t, path, 65534)
	if got != `GOT ""` {
		t.Errorf("other user got %s, want nothing", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for refused.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if refused.Load() != 1 {
		t.Errorf("refused %d connections, want 1", refused.Load())
	}
}
