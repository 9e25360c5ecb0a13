package app

import (
	"path/filepath"

	"github.com/adrg/xdg"
)

// Paths are the files and folders clearway keeps (DESIGN.md, "Files"). The
// zero value is not usable; DefaultPaths gives the XDG locations.
type Paths struct {
	Data    string // cookie jars, the instance lock and info (0700)
	Cookies string // the cookie-jar file (0600)
	Logs    string // clearway.log
	Prefs   string // the tray's switches (preferences.json)
}

// DefaultPaths returns the XDG locations, read from the environment as
// github.com/adrg/xdg last loaded it (call xdg.Reload after changing it).
func DefaultPaths() Paths {
	data := filepath.Join(xdg.DataHome, "clearway")
	return Paths{
		Data:    data,
		Cookies: filepath.Join(data, "cookies.json"),
		Logs:    filepath.Join(xdg.StateHome, "clearway"),
		Prefs:   filepath.Join(xdg.ConfigHome, "clearway", "preferences.json"),
	}
}
