package tray

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearway/clearway/internal/atomicfile"
)

// launchAgentLabel names clearway's LaunchAgent.
const launchAgentLabel = "com.clearway.clearway"

func launchAgentFile() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("tray: start at login: %w", err)
	}
	return filepath.Join(home, "Library", "LaunchAgents", launchAgentLabel+".plist"), nil
}

// SetStartAtLogin makes macOS start exe (with no arguments, which runs the
// tray) when the user logs in, or stops it doing so, through the LaunchAgent
// ~/Library/LaunchAgents/com.clearway.clearway.plist. exe "" means the running
// executable. Turning it off when it is off is not an error. Package app's
// SetPreference(view.StartAtLogin) calls it.
func SetStartAtLogin(on bool, exe string) error {
	path, err := launchAgentFile()
	if err != nil {
		return err
	}
	if !on {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("tray: start at login: %w", err)
		}
		return nil
	}
	exe, err = autostartExe(exe)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("tray: start at login: %w", err)
	}
	if err := atomicfile.WriteFile(path, launchAgent(exe), 0o644); err != nil {
		return fmt.Errorf("tray: start at login: %w", err)
	}
	return nil
}

// StartAtLogin reports whether the LaunchAgent exists.
func StartAtLogin() bool {
	path, err := launchAgentFile()
	if err != nil {
		return false
	}
	_, err = os.Stat(path)
	return err == nil
}

// launchAgent is the property list that runs exe at login.
func launchAgent(exe string) []byte {
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(exe))
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>` + launchAgentLabel + `</string>
	<key>ProgramArguments</key>
	<array>
		<string>` + esc.String() + `</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
`)
}
