package desktoptest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// StartXvfb starts a virtual X server (Xvfb, 1280x1024, 24-bit) on a free
// display number it picks itself (-displayfd), sets DISPLAY with t.Setenv,
// stops it in t.Cleanup and returns the display, e.g. ":3". It listens on a
// Unix socket only (-nolisten tcp).
func StartXvfb(t testing.TB) string {
	t.Helper()
	bin := Require(t, "Xvfb")["Xvfb"]
	// Setting DISPLAY first registers its restore before the stop cleanup,
	// and panics (as t.Setenv does) before anything starts in a parallel test.
	t.Setenv("DISPLAY", "")

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	proc, err := startProcess(t, "Xvfb", cmd)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("desktoptest: %v", err)
	}
	t.Cleanup(func() { proc.stop(t) })

	line, err := readLine(r, proc, startTimeout)
	if err != nil {
		t.Fatalf("desktoptest: Xvfb did not start: %v", err)
	}
	n, err := strconv.Atoi(line)
	if err != nil || n < 0 {
		t.Fatalf("desktoptest: Xvfb printed %q instead of a display number; its output:\n%s", line, proc.output())
	}
	display := ":" + line
	t.Setenv("DISPLAY", display)
	return display
}
