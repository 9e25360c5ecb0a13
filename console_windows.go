//go:build windows

package main

import (
	"os"
	"syscall"
)

// attachConsole gives the command-line commands a console: the Windows build
// is a GUI-subsystem program (no console window for the tray), so when it is
// started from cmd.exe or PowerShell its standard handles are invalid. It
// attaches to the parent's console and reopens the standard files on it.
func attachConsole() {
	kernel32 := syscall.NewLazyDLL("kernel32.dll")
	attach := kernel32.NewProc("AttachConsole")
	const attachParentProcess = ^uintptr(0) // (DWORD)-1
	if r, _, _ := attach.Call(attachParentProcess); r == 0 {
		return // no parent console (started from Explorer): nothing to do
	}
	if h, err := syscall.GetStdHandle(syscall.STD_OUTPUT_HANDLE); err != nil || h == 0 || h == syscall.InvalidHandle {
		if f, err := os.OpenFile("CONOUT$", os.O_RDWR, 0); err == nil {
			os.Stdout = f
		}
	}
	if h, err := syscall.GetStdHandle(syscall.STD_ERROR_HANDLE); err != nil || h == 0 || h == syscall.InvalidHandle {
		if f, err := os.OpenFile("CONOUT$", os.O_RDWR, 0); err == nil {
			os.Stderr = f
		}
	}
	if h, err := syscall.GetStdHandle(syscall.STD_INPUT_HANDLE); err != nil || h == 0 || h == syscall.InvalidHandle {
		if f, err := os.OpenFile("CONIN$", os.O_RDWR, 0); err == nil {
			os.Stdin = f
		}
	}
}
