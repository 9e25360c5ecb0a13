package app

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"

	"github.com/adrg/xdg"
	"github.com/clearway/clearway/proxy/keychain"
)

// Paths are the files and folders clearway keeps (DESIGN.md, "Files"). The
// zero value is not usable; DefaultPaths gives the XDG locations.
type Paths struct {
	Data    string // cookie jars, the instance lock and info (0700)
	Cookies string // the cookie-jar file (0600)
	Logs    string // clearway.log
	Prefs   string // the tray's switches (preferences.json)
	// Token is the client token's file on a machine where no keychain is
	// reachable (keychain.ClientTokenOrFile); "" falls back to Logs/client_token.
	Token string
	// Socket is the admin socket the CLI talks to (Linux, macOS; "" for
	// none): $XDG_RUNTIME_DIR/clearway/<id>.sock when that folder is set,
	// else clearway.sock in Data. <id> is derived from Data, so instances
	// with different data folders never share a socket.
	Socket string
}

// TokenFile is where the client token is kept when no keychain is reachable:
// p.Token, or client_token in the state folder (0700; the file 0600).
func (p Paths) TokenFile() string {
	if p.Token != "" {
		return p.Token
	}
	return filepath.Join(p.Logs, keychain.TokenFileName)
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
		Token:   filepath.Join(xdg.StateHome, "clearway", keychain.TokenFileName),
		Socket:  SocketPath(data),
	}
}

// SocketPath returns the admin socket's path for the data folder data (see
// Paths.Socket); "" on Windows, which keeps TCP with the token.
func SocketPath(data string) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && filepath.IsAbs(rt) {
		sum := sha256.Sum256([]byte(data))
		return filepath.Join(rt, "clearway", hex.EncodeToString(sum[:6])+".sock")
	}
	return filepath.Join(data, "clearway.sock")
}
