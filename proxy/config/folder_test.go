//go:build !windows

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrg/xdg"
)

// TestWorldWritableConfigFolderRefused: another user who can write the
// config folder could point an upstream (and its key) anywhere.
func TestWorldWritableConfigFolderRefused(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("CLEARWAY_CONFIG", "")
	xdg.Reload()
	t.Cleanup(xdg.Reload)
	dir := filepath.Join(home, "clearway")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("listen: 127.0.0.1:0\n"), 0o600)
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Errorf("Load with a 0777 config folder: %v", err)
	}
	os.Chmod(dir, 0o700)
	if _, err := Load(""); err != nil {
		t.Errorf("Load with a 0700 config folder: %v", err)
	}
}
