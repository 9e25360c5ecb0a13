package tray

import "github.com/atotto/clipboard"

// Clipboard is the system clipboard as the tray uses it. Implementations
// must be safe for concurrent use.
type Clipboard interface {
	ReadAll() (string, error)
	WriteAll(text string) error
}

// systemClipboard is the real clipboard through github.com/atotto/clipboard
// (xclip, xsel or wl-clipboard on Linux).
type systemClipboard struct{}

func (systemClipboard) ReadAll() (string, error)   { return clipboard.ReadAll() }
func (systemClipboard) WriteAll(text string) error { return clipboard.WriteAll(text) }
