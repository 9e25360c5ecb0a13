//go:build e2ehooks

package main

import (
	"log/slog"
	"net"
	"os"
)

// startHoldEnv names a unix socket of an end-to-end test. When it is set,
// every start of the proxy connects to it and waits for one byte before it
// reads the keychain, like a keychain call that takes its time and cannot
// be cancelled: the test clicks Stop while a start is under way, then lets
// the start finish (e2e_tray_lifecycle_test.go). Only the end-to-end tests'
// build has it (tag e2ehooks; testhook_release.go is every other build);
// when nothing listens there the start goes on at once.
const startHoldEnv = "CLEARWAY_TEST_START_HOLD"

// startHold returns the app's BeforeBuild hook for startHoldEnv, or nil.
func startHold(log *slog.Logger) func() {
	path := os.Getenv(startHoldEnv)
	if path == "" {
		return nil
	}
	return func() {
		c, err := net.Dial("unix", path)
		if err != nil {
			return
		}
		defer c.Close()
		log.Debug("start held by the test", "socket", path)
		var b [1]byte
		_, _ = c.Read(b[:])
	}
}
