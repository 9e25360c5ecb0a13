package app

import (
	"io"
	"log/slog"

	"github.com/clearway/clearway/internal/logfile"
)

// NewLogger logs to w and, when logDir is not "", also as JSON to
// logDir/clearway.log (0600; the folder 0700, refused when others can write
// it), rotated at 10 MiB while running with 3 old files kept (internal/logfile). level is "debug", "info", "warn" or "error" (anything else: info).
// It returns a function that closes the file.
func NewLogger(w io.Writer, level, logDir string) (*slog.Logger, func(), error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	handlers := []slog.Handler{slog.NewTextHandler(w, opts)}
	closeFn := func() {}
	var fixed []string
	if logDir != "" {
		f, fx, err := logfile.Open(logDir)
		if err != nil {
			return nil, nil, err
		}
		fixed = fx
		handlers = append(handlers, slog.NewJSONHandler(f, opts))
		closeFn = func() { _ = f.Close() }
	}
	log := slog.New(slog.NewMultiHandler(handlers...))
	for _, what := range fixed {
		log.Warn("log file or folder was readable by other users; made it private", "what", what)
	}
	return log, closeFn, nil
}
