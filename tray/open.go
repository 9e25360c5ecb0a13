package tray

import (
	"fmt"
	"os/exec"
	"runtime"
)

// openPath opens a file or folder with the user's default application:
// xdg-open on Linux and BSDs, open on macOS, rundll32's FileProtocolHandler on
// Windows. It returns once the opener started; the opener is reaped in the
// background.
func openPath(path string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", path)
	case "darwin":
		cmd = exec.Command("open", path)
	default:
		cmd = exec.Command("xdg-open", path)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("tray: open %s: %w", path, err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
