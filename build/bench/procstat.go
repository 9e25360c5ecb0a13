package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// procStat is what /proc/PID/stat says about one process.
type procStat struct {
	ppid         int
	utime, stime uint64 // clock ticks
}

// readProcStat parses /proc/PID/stat. The command name may hold spaces and
// parentheses, so fields are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	return parseProcStat(b)
}

// parseProcStat parses the contents of a /proc/PID/stat file.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat %q: no command name", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("stat %q: %d fields after the name, want >= 13", b, len(f))
	}
	var s procStat
	var err error
	if s.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, fmt.Errorf("stat ppid: %w", err)
	}
	if s.utime, err = strconv.ParseUint(f[11], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("stat utime: %w", err)
	}
	if s.stime, err = strconv.ParseUint(f[12], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("stat stime: %w", err)
	}
	return s, nil
}

// processTree returns pid and all its living descendants (nginx's worker is a
// child of its master), found by scanning /proc for parent ids.
func processTree(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(p)
		if err != nil {
			continue // exited while scanning
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	tree := []int{pid}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// cpuTicks sums utime+stime (clock ticks) over pids.
func cpuTicks(pids []int) (uint64, error) {
	var sum uint64
	for _, p := range pids {
		st, err := readProcStat(p)
		if err != nil {
			return 0, err
		}
		sum += st.utime + st.stime
	}
	return sum, nil
}

// statusKB reads a "Name:   123 kB" line (VmHWM, VmRSS) of /proc/PID/status.
func statusKB(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("open status of %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	prefix := name + ":"
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fs := strings.Fields(line[len(prefix):])
		if len(fs) != 2 || fs[1] != "kB" {
			return 0, fmt.Errorf("status of %d: odd %s line %q", pid, name, line)
		}
		v, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status of %d: %s: %w", pid, name, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	return 0, fmt.Errorf("status of %d: no %s line", pid, name)
}

// sumStatusKB sums a status field over pids.
func sumStatusKB(pids []int, name string) (int64, error) {
	var sum int64
	for _, p := range pids {
		v, err := statusKB(p, name)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// clockTicksPerSecond returns the kernel's USER_HZ (getconf CLK_TCK), 100 when unknown.
func clockTicksPerSecond() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || v <= 0 {
		return 100
	}
	return v
}

// lookPathOr returns the absolute path of a program, or "" when absent.
func lookPathOr(name string) string {
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err == nil {
			return name
		}
		return ""
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}
