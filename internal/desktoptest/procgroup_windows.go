package desktoptest

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup does nothing on Windows: the desktop services this package
// starts do not exist there, so their tests skip or fail in Require first.
func setProcessGroup(*exec.Cmd) {}

// signalGroup kills the process itself on Windows.
func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)
