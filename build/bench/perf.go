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
// counters) during the measured phase of a scenario, and writes a text report
// next to the perf.data file. A nil *profiler does nothing. Not safe for
// concurrent use.
type profiler struct {
	perf   string // path of perf
	dir    string // output directory
	target string // label of the target being profiled, set by the caller
}

// start begins recording inst's process tree; the returned func stops it and
// writes DIR/<target>-<scenario>.txt. It does nothing for direct or a nil profiler.
func (p *profiler) start(ctx context.Context, inst *instance, sc scenario) func() {
	if p == nil || inst.pid == 0 {
		return func() {}
	}
	base := filepath.Join(p.dir, fmt.Sprintf("%s-%s", p.target, sc.Name))
	pids := make([]string, 0, 2)
	for _, pid := range inst.proxyPIDs() {
		pids = append(pids, strconv.Itoa(pid))
	}
	cmd := exec.CommandContext(ctx, p.perf, "record", "-q", "-e", "cpu-clock", "-F", "4999", "-g",
		"-p", strings.Join(pids, ","), "-o", base+".data")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		slog.Warn("perf record did not start", "err", err)
		return func() {}
	}
	return func() {
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
		p.report(base)
	}
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
