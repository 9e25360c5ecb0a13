//go:build windows

package cookiejar

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data: a temporary file in the same
// folder, written, fsynced, then renamed over path (MoveFileEx with
// MOVEFILE_REPLACE_EXISTING), so a crash leaves the old file or the new one.
// renameio does not support Windows. It creates the folder if it is missing.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create folder for cookie jars: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"*")
	if err != nil {
		return fmt.Errorf("create temporary cookie jar file: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write cookie jar file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync cookie jar file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close cookie jar file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace cookie jar file: %w", err)
	}
	ok = true
	return nil
}
