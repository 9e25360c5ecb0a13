//go:build !linux && !windows && !darwin

package tray

import "errors"

// SetStartAtLogin is not supported on this system; it returns an error when
// asked to turn start at login on.
func SetStartAtLogin(on bool, exe string) error {
	if on {
		return errors.New("tray: start at login is not supported on this system")
	}
	return nil
}

// StartAtLogin reports false: start at login is not supported on this system.
func StartAtLogin() bool { return false }
