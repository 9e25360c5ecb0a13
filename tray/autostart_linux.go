package tray

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/adrg/xdg"
	"github.com/clearway/clearway/internal/atomicfile"
)

// autostartFile is the XDG autostart entry: $XDG_CONFIG_HOME/autostart/clearway.desktop.
func autostartFile() string {
	return filepath.Join(xdg.ConfigHome, "autostart", "clearway.desktop")
}

// SetStartAtLogin makes the desktop start exe (with no arguments, which runs
// the tray) when the user logs in, or stops it doing so. exe "" means the
// running executable, or the AppImage it runs from. On Linux it writes or
// removes the XDG autostart entry $XDG_CONFIG_HOME/autostart/clearway.desktop;
// on Windows the HKCU Run key value "clearway"; on macOS the LaunchAgent
// ~/Library/LaunchAgents/com.clearway.clearway.plist. Turning it off when it
// is off is not an error. Package app's SetPreference(view.StartAtLogin) calls
// it. Safe for concurrent use with different processes' readers: the file is
// replaced atomically.
func SetStartAtLogin(on bool, exe string) error {
	path := autostartFile()
	if !on {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("tray: start at login: %w", err)
		}
		return nil
	}
	if exe == "" {
		exe = os.Getenv("APPIMAGE") // the AppImage, not its temporary mount
	}
	exe, err := autostartExe(exe)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("tray: start at login: %w", err)
	}
	if err := atomicfile.WriteFile(path, desktopEntry(exe), 0o644); err != nil {
		return fmt.Errorf("tray: start at login: %w", err)
	}
	return nil
}

// StartAtLogin reports whether the desktop starts clearway at login: the
// autostart entry exists and is not switched off (Hidden=true or
// X-GNOME-Autostart-enabled=false, which desktop settings tools write).
func StartAtLogin() bool {
	b, err := os.ReadFile(autostartFile())
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if (k == "Hidden" && v == "true") || (k == "X-GNOME-Autostart-enabled" && v == "false") {
			return false
		}
	}
	return true
}

// desktopEntry is the autostart entry that runs exe.
func desktopEntry(exe string) []byte {
	return []byte("[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=clearway\n" +
		"Comment=Local proxy for LLM APIs that keeps sessions, cookies and keys\n" +
		"Exec=" + desktopExecArg(exe) + "\n" +
		"Icon=clearway\n" +
		"Terminal=false\n" +
		"X-GNOME-Autostart-enabled=true\n")
}

// desktopExecArg quotes one argument of a desktop entry's Exec key, following
// the Desktop Entry Specification: an argument with reserved characters is
// put in double quotes with ", `, $ and \ escaped by a backslash; then the
// string-value escaping doubles every backslash; "%" is written "%%".
func desktopExecArg(arg string) string {
	arg = strings.ReplaceAll(arg, "%", "%%")
	if !strings.ContainsAny(arg, " \t\n\"'\\><~|&;$*?#()`") {
		return arg
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range arg {
		switch r {
		case '"', '`', '$':
			b.WriteString(`\\`) // the quoting backslash, escaped for the string value
			b.WriteRune(r)
		case '\\':
			b.WriteString(`\\\\`) // the quoted backslash: \\ quoted, each escaped again
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
