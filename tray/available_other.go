//go:build windows || (darwin && cgo)

package tray

// Available returns nil: Windows and macOS always have a notification area
// or menu bar.
func Available() error { return nil }
