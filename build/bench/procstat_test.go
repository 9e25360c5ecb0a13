package main

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := []byte("4242 (we ird) name) S 17 4242 4242 0 -1 4194560 500 0 0 0 123 45 0 0 20 0 3 0 100 1000 200 18446744073709551615\n")
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 17 || st.utime != 123 || st.stime != 45 {
		t.Errorf("parsed %+v, want ppid 17, utime 123, stime 45", st)
	}
	if _, err := parseProcStat([]byte("12 (short) S 1 2")); err == nil {
		t.Error("a truncated stat line parsed without error")
	}
}

// TestProcessTreeAndStatusOfRealProcesses reads /proc for this test process
// and a child it starts.
func TestProcessTreeAndStatusOfRealProcesses(t *testing.T) {
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		t.Skipf("cannot start sleep: %v", err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	tree := processTree(os.Getpid())
	if tree[0] != os.Getpid() || !slices.Contains(tree, child.Process.Pid) {
		t.Errorf("processTree(self) = %v, want self first and child %d in it", tree, child.Process.Pid)
	}
	hwm, err := sumStatusKB([]int{os.Getpid()}, "VmHWM")
	if err != nil || hwm <= 0 {
		t.Errorf("VmHWM of self = %d, %v; want > 0", hwm, err)
	}
	if _, err := statusKB(os.Getpid(), "NoSuchField"); err == nil {
		t.Error("a missing status field read without error")
	}
	// Burn a little CPU so utime+stime is not zero.
	before, err := cpuTicks([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := 0; ; i++ {
		x += i
		if i%1_000_000 == 0 {
			now, err := cpuTicks([]int{os.Getpid()})
			if err != nil {
				t.Fatal(err)
			}
			if now > before {
				break
			}
		}
	}
	_ = x
	if _, err := cpuTicks([]int{child.Process.Pid, 1 << 30}); err == nil {
		t.Error("cpuTicks of a missing process succeeded")
	}
}
