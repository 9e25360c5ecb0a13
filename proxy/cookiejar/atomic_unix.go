//go:build !windows

package cookiejar

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// writeFileAtomic replaces path with data, mode 0600, so that a crash at any
// moment leaves the old file or the new one: a temporary file in the same
// folder, written, fsynced, renamed over path, then the folder fsynced. It
// creates the folder (mode 0700) if it is missing.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create folder for cookie jars: %w", err)
	}
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return fmt.Errorf("create temporary cookie jar file: %w", err)
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("write cookie jar file: %w", err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("replace cookie jar file: %w", err)
	}
	// Make the rename itself durable. Some file systems cannot sync a
	// folder; the rename is still atomic there.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
