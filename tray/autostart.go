package tray

import (
	"fmt"
	"os"
)

// autostartExe returns exe, or the running executable when exe is "".
func autostartExe(exe string) (string, error) {
	if exe != "" {
		return exe, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("tray: start at login: find executable: %w", err)
	}
	return p, nil
}
