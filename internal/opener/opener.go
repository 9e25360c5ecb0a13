// Package opener opens a file, folder or URL with the user's default
// application: xdg-open on Linux and BSDs, open on macOS, rundll32's
// FileProtocolHandler on Windows.
package opener

import (
	"fmt"
	"os/exec"
	"runtime"
)

// Open starts the opener for target and returns once it started; the opener
// is reaped in the background. Safe for concurrent use.
func Open(target string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", target)
	case "darwin":
		cmd = exec.Command("open", target)
	default:
		cmd = exec.Command("xdg-open", target)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("open %s: %w", target, err)
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
