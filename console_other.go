//go:build !windows

package main

func isWindows() bool { return false }

// attachConsole is only needed on Windows (see console_windows.go).
func attachConsole() {}
