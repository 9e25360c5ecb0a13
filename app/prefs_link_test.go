//go:build !windows

package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinkedPrefsNotFollowed: preferences.json linked to a file holding
// other switches is not read through the link; defaults and a warning.
func TestLinkedPrefsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.json")
	os.WriteFile(target, []byte(`{"notifications": false}`), 0o600)
	path := filepath.Join(dir, "preferences.json")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	p := loadPrefs(path, slog.New(slog.NewTextHandler(&buf, nil)))
	if !p.Notifications || !strings.Contains(buf.String(), "symbolic link") {
		t.Errorf("prefs through a link: %+v, log %q", p, buf.String())
	}
}
