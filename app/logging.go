package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
)

// NewLogger logs to w and, when logDir is not "", also as JSON to
// logDir/clearway.log (0600; the folder 0700), rotated once it passes
// 10 MiB. level is "debug", "info", "warn" or "error" (anything else: info).
// It returns a function that closes the file.
func NewLogger(w io.Writer, level, logDir string) (*slog.Logger, func(), error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	handlers := []slog.Handler{slog.NewTextHandler(w, opts)}
	closeFn := func() {}
	if logDir != "" {
		if err := os.MkdirAll(logDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("log folder: %w", err)
		}
		path := filepath.Join(logDir, "clearway.log")
		rotateIfLarge(path)
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		handlers = append(handlers, slog.NewJSONHandler(f, opts))
		closeFn = func() { _ = f.Close() }
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closeFn, nil
}

// rotateIfLarge moves a log file over 10 MiB to path.1 (replacing the older
// copy), so the log never grows without bound.
func rotateIfLarge(path string) {
	if st, err := os.Stat(path); err == nil && st.Size() >= 10<<20 {
		_ = os.Rename(path, path+".1")
	}
}
