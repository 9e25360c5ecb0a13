package desktoptest

import "syscall"

// setDeathSignal asks the kernel to kill the child if the test binary dies
// without running its cleanups (a panic in another goroutine, a timeout).
func setDeathSignal(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }
