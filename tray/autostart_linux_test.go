package tray

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adrg/xdg"

	"github.com/clearway/clearway/internal/desktoptest"
)

func withConfigHome(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	xdg.Reload()
	t.Cleanup(xdg.Reload)
	return dir
}

func TestSetStartAtLogin(t *testing.T) {
	dir := withConfigHome(t)
	path := filepath.Join(dir, "autostart", "clearway.desktop")
	if StartAtLogin() {
		t.Fatal("StartAtLogin is true in an empty config home")
	}
	exe := "/opt/clear way/clearway"
	if err := SetStartAtLogin(true, exe); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("autostart file missing: %v", err)
	}
	if !strings.Contains(string(b), "Exec=\"/opt/clear way/clearway\"\n") {
		t.Errorf("entry does not run %q:\n%s", exe, b)
	}
	if !StartAtLogin() {
		t.Error("StartAtLogin is false after turning it on")
	}
	validate := desktoptest.Require(t, "desktop-file-validate")["desktop-file-validate"]
	if out, err := exec.Command(validate, path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("desktop-file-validate: %v\n%s", err, out)
	}
	if err := SetStartAtLogin(false, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("autostart file still there: %v", err)
	}
	if err := SetStartAtLogin(false, ""); err != nil {
		t.Errorf("turning off twice: %v", err)
	}
}

func TestStartAtLoginRespectsDisabledEntry(t *testing.T) {
	dir := withConfigHome(t)
	if err := SetStartAtLogin(true, "/usr/bin/clearway"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "autostart", "clearway.desktop")
	b, _ := os.ReadFile(path)
	off := strings.Replace(string(b), "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false", 1)
	if err := os.WriteFile(path, []byte(off), 0o644); err != nil {
		t.Fatal(err)
	}
	if StartAtLogin() {
		t.Error("StartAtLogin is true for an entry the desktop switched off")
	}
}

func TestDesktopExecArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/usr/bin/clearway", "/usr/bin/clearway"},
		{"/opt/my apps/clearway", `"/opt/my apps/clearway"`},
		{`/opt/a"b/c`, `"/opt/a\\"b/c"`},
		{`/opt/$HOME/c`, `"/opt/\\$HOME/c"`},
		{`/opt/a\b/c`, `"/opt/a\\\\b/c"`},
		{"/opt/100%/c", "/opt/100%%/c"},
	}
	for _, tt := range tests {
		if got := desktopExecArg(tt.in); got != tt.want {
			t.Errorf("desktopExecArg(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestSetStartAtLoginUsesTheAppImage(t *testing.T) {
	dir := withConfigHome(t)
	t.Setenv("APPIMAGE", "/home/u/Apps/clearway.AppImage")
	if err := SetStartAtLogin(true, ""); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "autostart", "clearway.desktop"))
	if !strings.Contains(string(b), "Exec=/home/u/Apps/clearway.AppImage\n") {
		t.Errorf("entry does not run the AppImage:\n%s", b)
	}
}
