//go:build !linux

package tray

import (
	"fmt"
	"log/slog"

	"github.com/clearway/clearway/assets"
	"github.com/gen2brain/beeep"
)

// beeepSender shows notifications as Windows toasts or macOS notifications
// through github.com/gen2brain/beeep. It cannot replace a notification, so
// Key is ignored. Safe for concurrent use.
type beeepSender struct{}

func newSystemSender(*slog.Logger) sender {
	beeep.AppName = "clearway"
	return beeepSender{}
}

// Send shows note.
func (beeepSender) Send(note Notification) error {
	if err := beeep.Notify(note.Summary, note.Body, assets.AppIconPNG(128)); err != nil {
		return fmt.Errorf("tray: notify: %w", err)
	}
	return nil
}

// Close does nothing.
func (beeepSender) Close() error { return nil }
