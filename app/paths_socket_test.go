package app

import (
	"path/filepath"
	"runtime"
	"testing"
)

func TestSocketPathPerDataFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		if SocketPath(`C:\data`) != "" {
			t.Error("Windows keeps TCP: no socket")
		}
		return
	}
	rt := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", rt)
	a, b := SocketPath("/home/u/.local/share/clearway"), SocketPath("/tmp/other/clearway")
	if a == b || filepath.Dir(a) != filepath.Join(rt, "clearway") {
		t.Errorf("sockets %q and %q: want distinct, in %s/clearway", a, b, rt)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got := SocketPath("/d/clearway"); got != "/d/clearway/clearway.sock" {
		t.Errorf("without XDG_RUNTIME_DIR: %q", got)
	}
}
