//go:build unix

package ledger

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// TestReadOnlyFile: a ledger file that cannot be written is moved aside and
// a new one made, with one warning. Root ignores file modes, so as root the
// test runs itself again as nobody.
func TestReadOnlyFile(t *testing.T) {
	if os.Getenv("LEDGER_RO_CHILD") == "" && os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "ledger-ro-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		// The test binary sits in a folder only root may enter: run a copy.
		self, _ := os.Executable()
		exe := filepath.Join(dir, "ledger.test")
		b, err := os.ReadFile(self)
		if err == nil {
			err = os.WriteFile(exe, b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestReadOnlyFile$", "-test.v")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LEDGER_RO_CHILD="+dir, "HOME="+dir, "TMPDIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestReadOnlyFile") {
			t.Fatalf("as nobody: %v\n%s", err, out)
		}
		return
	}
	dir := os.Getenv("LEDGER_RO_CHILD")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "usage.db")
	log, logs := newLog()
	l := open(t, path, log)
	l.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	l.Flush()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, path, log)
	l2.Record(rec(time.Now(), "a", "c", "m", 200, 1, usage.Tokens{}))
	l2.Flush()
	if st := l2.Stats(); st.Written != 1 || st.Dropped != 0 {
		t.Errorf("stats after recreating: %+v", st)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("moved-aside files: %v", aside)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs)
	}
}
