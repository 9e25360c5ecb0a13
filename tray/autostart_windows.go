package tray

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const (
	runKeyPath   = `Software\Microsoft\Windows\CurrentVersion\Run`
	runValueName = "clearway"
)

// SetStartAtLogin makes Windows start exe (with no arguments, which runs the
// tray) when the user logs in, or stops it doing so, through the value
// "clearway" under HKCU\Software\Microsoft\Windows\CurrentVersion\Run.
// exe "" means the running executable. Turning it off when it is off is not
// an error. Package app's SetPreference(view.StartAtLogin) calls it.
func SetStartAtLogin(on bool, exe string) error {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.SET_VALUE|registry.QUERY_VALUE)
	if err != nil {
		return fmt.Errorf("tray: start at login: open run key: %w", err)
	}
	defer k.Close()
	if !on {
		if err := k.DeleteValue(runValueName); err != nil && !errors.Is(err, registry.ErrNotExist) {
			return fmt.Errorf("tray: start at login: %w", err)
		}
		return nil
	}
	exe, err = autostartExe(exe)
	if err != nil {
		return err
	}
	if err := k.SetStringValue(runValueName, `"`+exe+`"`); err != nil {
		return fmt.Errorf("tray: start at login: %w", err)
	}
	return nil
}

// StartAtLogin reports whether the HKCU Run key starts clearway at login.
func StartAtLogin() bool {
	k, err := registry.OpenKey(registry.CURRENT_USER, runKeyPath, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	v, _, err := k.GetStringValue(runValueName)
	return err == nil && v != ""
}
