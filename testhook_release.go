//go:build !e2ehooks

package main

import "log/slog"

// startHold is the release build's: no start is ever held (the end-to-end
// tests' hook is in testhook.go, built with the tag e2ehooks).
func startHold(*slog.Logger) func() { return nil }
