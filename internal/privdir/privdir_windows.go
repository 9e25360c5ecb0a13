//go:build windows

package privdir

import (
	"io/fs"
	"os"
)

// Windows has no O_NOFOLLOW; Lstat in OpenFile refuses links.
const noFollow = 0

func isLoop(error) bool { return false }

// check does nothing on Windows: folder ACLs under the user's profile are
// private by default, and modes do not describe them.
func check(string) (fs.FileMode, error) { return 0, nil }

func checkFile(*os.File, string, fs.FileMode) error { return nil }

func checkInfo(fs.FileInfo, string) error { return nil }
