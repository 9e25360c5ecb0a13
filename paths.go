package main

import (
	"path/filepath"

	"github.com/adrg/xdg"
)

// dataDir holds the cookie jars and the instance lock.
func dataDir() string { return filepath.Join(xdg.DataHome, "clearway") }

// cookiesPath is the cookie-jar file.
func cookiesPath() string { return filepath.Join(dataDir(), "cookies.json") }

// logDir holds clearway.log.
func logDir() string { return filepath.Join(xdg.StateHome, "clearway") }

// prefsPath holds the tray's switches (notifications, start at login).
func prefsPath() string { return filepath.Join(xdg.ConfigHome, "clearway", "preferences.json") }

func filepathDir(p string) string { return filepath.Dir(p) }
