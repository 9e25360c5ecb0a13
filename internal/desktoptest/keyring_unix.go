//go:build unix

package desktoptest

import (
	"syscall"
	"testing"
)

// Freeze stops the daemon with SIGSTOP without closing its connection, so
// calls to the Secret Service hang as they do with a stuck keyring or a
// pending D-Bus activation. Thaw (or the test's cleanup) resumes it.
func (k *Keyring) Freeze(t testing.TB) {
	t.Helper()
	if err := signalGroup(k.proc.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("desktoptest: freeze gnome-keyring: %v", err)
	}
	t.Cleanup(func() { _ = signalGroup(k.proc.cmd.Process.Pid, syscall.SIGCONT) })
}

// Thaw resumes a daemon stopped by Freeze.
func (k *Keyring) Thaw(t testing.TB) {
	t.Helper()
	if err := signalGroup(k.proc.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatalf("desktoptest: thaw gnome-keyring: %v", err)
	}
}
