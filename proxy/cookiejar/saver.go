package cookiejar

import (
	"context"
	"log/slog"
	"time"
)

// Run is the saver: after a change it waits SaveDelay (so a burst of changes
// costs one write) and writes the file. A failed save is reported through
// OnSave and the log and retried with backoff (MinRetryDelay doubling up to
// MaxRetryDelay, 1s to 30s by default) until it succeeds; changes made
// meanwhile go into that retry. When ctx is done, Run writes what is pending
// once more and returns. Run one at a time per Store; a store with no Path
// has nothing to write, and Run only waits for ctx.
func (s *Store) Run(ctx context.Context) {
	var timer *time.Timer
	var fire <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	arm := func(d time.Duration) {
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		fire = timer.C
	}
	failures := 0
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(); err != nil {
				s.log.Error("final save of cookie jars failed; the latest cookie changes are lost",
					"path", s.opts.Path, "err", err)
			}
			return
		case <-s.kick:
			if fire == nil {
				arm(s.opts.SaveDelay)
			}
		case <-fire:
			fire = nil
			if err := s.Flush(); err != nil {
				failures++
				d := s.retryDelay(failures)
				// Say it once per streak of failures (a full or read-only
				// disk fails every retry); the retries go to debug.
				level := slog.LevelDebug
				if failures == 1 {
					level = slog.LevelWarn
				}
				s.log.Log(context.Background(), level, "saving cookie jars failed; the proxy keeps serving and will retry", "path", s.opts.Path, "err", err,
					"attempt", failures, "retry_in", d)
				arm(d)
				continue
			}
			if failures > 0 {
				s.log.Info("saved cookie jars after failed attempts", "path", s.opts.Path, "failed_attempts", failures)
				failures = 0
			}
		}
	}
}

// retryDelay is the wait after the n-th failed save in a row.
func (s *Store) retryDelay(n int) time.Duration {
	d := s.opts.MinRetryDelay
	for i := 1; i < n && d < s.opts.MaxRetryDelay; i++ {
		d *= 2
	}
	return min(d, s.opts.MaxRetryDelay)
}

// Flush writes the file now if there are unsaved changes (and a Path); it
// returns nil when there was nothing to do. OnSave is told of the attempt.
// It is safe to call while Run runs: writes are serialised, newest last.
func (s *Store) Flush() error {
	attempted, err := s.save()
	if attempted && s.opts.OnSave != nil {
		s.opts.OnSave(err)
	}
	return err
}

// Close writes what is pending (Flush). The store stays usable; later
// changes need Run or another Flush to reach the disk.
func (s *Store) Close() error { return s.Flush() }

// save writes the current state if it changed since the last write. No jar
// or store lock is held during the I/O.
func (s *Store) save() (attempted bool, err error) {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	gen := s.gen.Load()
	if gen == s.savedGen.Load() {
		return false, nil
	}
	if s.opts.Path == "" {
		s.savedGen.Store(gen)
		return false, nil
	}
	now := s.opts.Now()
	data, err := encodeFile(now, s.snapshot(now))
	if err == nil {
		err = writeFileAtomic(s.opts.Path, data)
	}
	if err != nil {
		return true, err
	}
	s.savedGen.Store(gen)
	s.mu.Lock()
	s.savedAt = normalTime(now)
	s.mu.Unlock()
	s.log.Debug("saved cookie jars", "path", s.opts.Path, "bytes", len(data))
	return true, nil
}
