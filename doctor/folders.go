package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// checkFolders: the data, state and config folders are private (0700, ours).
// clearway refuses a folder others can write, so that is a failure; one
// others can only read or list is a warning.
func checkFolders(_ context.Context, o *Options) []Result {
	var out []Result
	seen := map[string]int{} // path -> index in out (on Windows all three are %LOCALAPPDATA%\clearway)
	for _, f := range []struct{ what, path string }{
		{"data", o.DataDir},
		{"state", o.StateDir},
		{"config", o.ConfigDir},
	} {
		if f.path == "" {
			continue
		}
		if i, ok := seen[f.path]; ok {
			out[i].Name += "+" + f.what
			continue
		}
		seen[f.path] = len(out)
		r := FolderCheck(f.path)
		r.Name = "folder:" + f.what
		out = append(out, r)
	}
	return out
}

// FolderCheck inspects one of clearway's folders, as internal/privdir judges
// them but without changing anything, and says whether it is private: OK for a missing folder (clearway creates it 0700) or one with mode
// 0700 owned by the current user; Warn when others may read or list it; Fail
// when it is not a folder, belongs to someone else, or others can write it.
// The Result's Name is empty. On Windows only existence is checked (folders
// there inherit the profile's ACL).
func FolderCheck(path string) Result {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Result{Status: OK, Detail: path + " (not created yet: clearway creates it with mode 0700)"}
	case err != nil:
		return Result{Status: Fail, Detail: err.Error(), Fix: "check the folder's permissions (ls -ld " + path + ")"}
	case !fi.IsDir():
		return Result{Status: Fail, Detail: path + " is not a folder", Fix: "move " + path + " aside; clearway creates the folder"}
	}
	if runtime.GOOS == "windows" {
		return Result{Status: OK, Detail: path + " (private through your profile's permissions)"}
	}
	mode := fi.Mode().Perm()
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return Result{Status: Fail, Detail: fmt.Sprintf("%s belongs to uid %d, not to you (uid %d)", path, uid, os.Geteuid()),
			Fix: fmt.Sprintf("chown -R %d %s (or use your own folder through XDG_*_HOME)", os.Geteuid(), path)}
	}
	switch {
	case mode&0o022 != 0:
		return Result{Status: Fail, Detail: fmt.Sprintf("%s has mode %04o: other users can write it, so clearway refuses to use it", path, mode),
			Fix: "chmod 700 " + path}
	case mode&0o077 != 0:
		return Result{Status: Warn, Detail: fmt.Sprintf("%s has mode %04o: other users can list it (clearway sets it to 0700 when it starts)", path, mode),
			Fix: "chmod 700 " + path}
	}
	return Result{Status: OK, Detail: fmt.Sprintf("%s (mode %04o)", path, mode)}
}
