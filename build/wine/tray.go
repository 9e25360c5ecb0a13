//go:build linux

package main

import "errors"

// trayScreenshot starts the tray app under Wine and photographs Wine's
// system tray.
func (r *runner) trayScreenshot(path string) error {
	return errors.New("not implemented yet")
}
