//go:build darwin && !cgo

package tray

import (
	"context"
	"errors"
	"log/slog"
)

// Options tunes Run. The zero value is ready to use.
type Options struct {
	OnQuit          func()
	Logger          *slog.Logger
	Clipboard       Clipboard
	OpenPath        func(path string) error
	Diagnose        func(ctx context.Context) (report, summary string, problems []string)
	NoNotifications bool
}

// ErrAlreadyRan is returned by Run when called a second time in one process.
var ErrAlreadyRan = errors.New("tray: Run was already called in this process; systray runs once per process")

var errNoCgo = errors.New("this clearway was built without cgo, which the macOS menu bar needs")

// Available reports that this build has no tray: macOS needs cgo.
func Available() error { return errNoCgo }

// Run returns an error at once: this build has no tray.
func Run(ctx context.Context, app App, opts Options) error { return errNoCgo }
