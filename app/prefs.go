package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/clearway/clearway/internal/atomicfile"
	"github.com/clearway/clearway/internal/privdir"
)

// prefs are the user's switches kept in Paths.Prefs. Start at login is not
// among them: the autostart entry itself is the truth (see Autostart).
type prefs struct {
	Notifications bool `json:"notifications"`
}

func defaultPrefs() prefs { return prefs{Notifications: true} }

// loadPrefs reads path; a missing file gives the defaults, an unreadable
// one the defaults and a warning naming the file.
func loadPrefs(path string, log *slog.Logger) prefs {
	f, err := privdir.OpenFile(path, os.O_RDONLY, 0o600) // never through a link
	if errors.Is(err, privdir.ErrNotPrivate) {
		log.Warn("preferences file not used; using defaults", "file", path, "err", err)
	}
	if err != nil {
		return defaultPrefs()
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	f.Close()
	if err != nil {
		return defaultPrefs()
	}
	p := defaultPrefs()
	if err := json.Unmarshal(b, &p); err != nil {
		log.Warn("preferences file unreadable; using defaults", "file", path, "err", err)
		return defaultPrefs()
	}
	return p
}

// savePrefs replaces path atomically (0600, the folder 0700).
func savePrefs(path string, p prefs) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	if _, err := privdir.Ensure(filepath.Dir(path)); err != nil {
		return fmt.Errorf("preferences: %w", err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}
