//go:build !(linux || freebsd || openbsd || netbsd)

package doctor

import (
	"context"
	"runtime"
)

// checkDesktop: Windows and macOS always have a tray (the notification area,
// the menu bar) and a notification service; there is no session bus to check.
func checkDesktop(context.Context, *Options) []Result {
	tray, notes := "the notification area", "Windows notifications (toasts)"
	if runtime.GOOS == "darwin" {
		tray, notes = "the menu bar", "macOS notifications"
	}
	return []Result{
		{Name: "tray-host", Status: OK, Detail: "clearway's icon lives in " + tray},
		{Name: "notifications", Status: OK, Detail: notes},
	}
}
