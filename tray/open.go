package tray

import "github.com/clearway/clearway/internal/opener"

// openPath opens a file, folder or URL with the user's default application
// (see package opener).
func openPath(path string) error { return opener.Open(path) }
