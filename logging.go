package main

import (
	"io"
	"log/slog"

	"github.com/clearway/clearway/internal/logfile"
)

// newLogger logs to w and, when toFile, also to $XDG_STATE_HOME/clearway/clearway.log
// (0600; the folder 0700; rotated at 10 MiB while running, 3 old files kept:
// internal/logfile). It returns a close function for the file.
func newLogger(w io.Writer, level string, toFile bool) (*slog.Logger, func(), error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	handlers := []slog.Handler{slog.NewTextHandler(w, opts)}
	closeFn := func() {}
	var fixed []string
	if toFile {
		f, fx, err := logfile.Open(logDir())
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
