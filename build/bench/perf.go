package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// profiler records the proxy's CPU profile with `perf record` (software
// cpu-clock event, frame-pointer call graphs: works in VMs without hardware
// counters) during the measured phase of a scenario, writes a text report
// next to the perf.data file, and counts the proxy's system calls and context
// switches with `perf stat` (tracepoints: exact counts, immune to noise).
// A nil *profiler does nothing. Not safe for concurrent use.
type profiler struct {
	perf   string // path of perf
	dir    string // output directory
	target string // label of the target being profiled, set by the caller
	// counts holds the perf stat counters of the last profiled phase.
	counts map[string]float64
}

// statGroups are the columns of the profile table: each sums perf stat events.
var statGroups = []struct {
	name   string
	events []string
}{
	{"syscalls", []string{"raw_syscalls:sys_enter"}},
	{"writes", []string{"syscalls:sys_enter_write", "syscalls:sys_enter_writev", "syscalls:sys_enter_sendto", "syscalls:sys_enter_sendmsg"}},
	{"reads", []string{"syscalls:sys_enter_read", "syscalls:sys_enter_readv", "syscalls:sys_enter_recvfrom", "syscalls:sys_enter_recvmsg"}},
	{"epoll waits", []string{"syscalls:sys_enter_epoll_pwait", "syscalls:sys_enter_epoll_wait"}},
	{"futex", []string{"syscalls:sys_enter_futex"}},
	{"context switches", []string{"context-switches"}},
}

// statEvents lists every event of statGroups.
func statEvents() []string {
	var out []string
	for _, g := range statGroups {
		out = append(out, g.events...)
	}
	return out
}

// start begins recording inst's process tree; the returned func stops it,
// writes DIR/<target>-<scenario>.txt and fills p.counts. It does nothing for
// direct or a nil profiler.
func (p *profiler) start(ctx context.Context, inst *instance, sc scenario) func() {
	if p == nil || inst.pid == 0 {
		return func() {}
	}
	p.counts = nil
	base := filepath.Join(p.dir, fmt.Sprintf("%s-%s", p.target, sc.Name))
	pids := make([]string, 0, 2)
	for _, pid := range inst.proxyPIDs() {
		pids = append(pids, strconv.Itoa(pid))
	}
	pidList := strings.Join(pids, ",")
	record := exec.CommandContext(ctx, p.perf, "record", "-q", "-e", "cpu-clock", "-F", "4999", "-g",
		"-p", pidList, "-o", base+".data")
	record.Stderr = os.Stderr
	stat := exec.CommandContext(ctx, p.perf, "stat", "-x", ",", "-o", base+".stat", "-e", strings.Join(statEvents(), ","), "-p", pidList)
	var started []*exec.Cmd
	for _, c := range []*exec.Cmd{record, stat} {
		if err := c.Start(); err != nil {
			slog.Warn("perf did not start", "err", err, "args", c.Args)
			continue
		}
		started = append(started, c)
	}
	return func() {
		for _, c := range started {
			stopPerf(c)
		}
		p.report(base)
		counts, err := parsePerfStat(base + ".stat")
		if err != nil {
			slog.Warn("perf stat", "err", err)
			return
		}
		p.counts = counts
	}
}

// stopPerf interrupts a perf command (it then writes its output) and waits.
func stopPerf(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = cmd.Process.Kill()
		<-done
	}
}

// parsePerfStat reads `perf stat -x ,` output: value,unit,event,...
func parsePerfStat(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue // "<not supported>" or "<not counted>"
		}
		out[f[2]] = v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no counters", path)
	}
	return out, nil
}

// report writes two text views of base.data: flat by symbol, and by caller.
func (p *profiler) report(base string) {
	flat, err := exec.Command(p.perf, "report", "-i", base+".data", "--stdio", "--no-children",
		"--sort", "symbol", "-g", "none", "--percent-limit", "0.7").Output()
	if err != nil {
		slog.Warn("perf report failed", "err", err, "data", base+".data")
		return
	}
	cum, _ := exec.Command(p.perf, "report", "-i", base+".data", "--stdio", "--children",
		"--sort", "symbol", "-g", "none", "--percent-limit", "3").Output()
	out := "# flat (self) by symbol\n" + string(flat) + "\n# cumulative (children) by symbol\n" + string(cum)
	if err := os.WriteFile(base+".txt", []byte(out), 0o644); err != nil {
		slog.Warn("write perf report", "err", err)
		return
	}
	slog.Info("profile written", "file", base+".txt")
}
