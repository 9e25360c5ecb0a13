package keychain

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// noBus is a keychain backend that fails every call as go-keyring does on a
// machine without a session bus.
func noBus() backend {
	err := &exec.Error{Name: "dbus-launch", Err: exec.ErrNotFound}
	return backend{
		get: func(string, string) (string, error) { return "", err },
		set: func(string, string, string) error { return err },
		del: func(string, string) error { return err },
	}
}

func TestClientTokenFallsBackToAPrivateFileWithoutAKeychain(t *testing.T) {
	if !secretServiceOS {
		t.Skip("D-Bus failures are classified only where go-keyring uses the Secret Service")
	}
	path := filepath.Join(t.TempDir(), "state", "clearway", TokenFileName)
	s := newKeyringStore(noBus(), time.Second)
	tok, err := ClientTokenOrFile(s, path)
	if err != nil {
		t.Fatalf("ClientTokenOrFile: %v", err)
	}
	if tok.File != path || tok.Why != "no D-Bus session bus" || !tok.Created || len(tok.Value) != 43 {
		t.Fatalf("token = {File:%q Why:%q Created:%v len:%d}, want a new token in %s", tok.File, tok.Why, tok.Created, len(tok.Value), path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("token folder mode %v, want 0700", di.Mode())
	}
	again, err := ClientTokenOrFile(s, path)
	if err != nil || again.Value != tok.Value || again.Created {
		t.Fatalf("second read: %v, same=%v created=%v", err, again.Value == tok.Value, again.Created)
	}
	rot, err := RotateClientTokenOrFile(s, path)
	if err != nil || rot.Value == tok.Value || rot.File != path {
		t.Fatalf("rotate: %v (changed=%v, file %q)", err, rot.Value != tok.Value, rot.File)
	}
	if now, _ := ClientTokenOrFile(s, path); now.Value != rot.Value {
		t.Error("the rotated token is not the one read back")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("rotated file mode %v, want 0600", fi.Mode())
	}
}

func TestClientTokenFileRefusedWhenOthersCanReachIt(t *testing.T) {
	if runtime.GOOS == "windows" || !secretServiceOS {
		t.Skip("modes are not checked on Windows")
	}
	dir := filepath.Join(t.TempDir(), "clearway")
	path := filepath.Join(dir, TokenFileName)
	s := newKeyringStore(noBus(), time.Second)
	if _, err := ClientTokenOrFile(s, path); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(path, 0o644)
	if _, err := ClientTokenOrFile(s, path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) || !strings.Contains(err.Error(), "--rotate") {
		t.Errorf("readable file: err = %v, want the chmod and rotate advice", err)
	}
	_ = os.Chmod(path, 0o600)
	_ = os.Chmod(dir, 0o770)
	if _, err := ClientTokenOrFile(s, path); err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Errorf("group-writable folder: err = %v, want the chmod 700 advice", err)
	}
}

func TestClientTokenFileMovesIntoAKeychainThatAppears(t *testing.T) {
	if !secretServiceOS {
		t.Skip("D-Bus failures are classified only where go-keyring uses the Secret Service")
	}
	path := filepath.Join(t.TempDir(), TokenFileName)
	old, err := ClientTokenOrFile(newKeyringStore(noBus(), time.Second), path)
	if err != nil {
		t.Fatal(err)
	}
	m := &memBackend{}
	s := newKeyringStore(m.backend(), time.Second)
	tok, err := ClientTokenOrFile(s, path)
	if err != nil || tok.Value != old.Value || tok.File != "" {
		t.Fatalf("after the keychain appeared: %v, same=%v, file %q; want the same token, now in the keychain", err, tok.Value == old.Value, tok.File)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the token file is still there (%v)", err)
	}
	if v, _ := s.Get(ClientTokenName); v != old.Value {
		t.Error("the keychain does not hold the moved token")
	}
}

func TestClientTokenLockedKeychainIsAnErrorNotAFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokenFileName)
	if !secretServiceOS {
		t.Skip("D-Bus failures are classified only where go-keyring uses the Secret Service")
	}
	s := newKeyringStore(backend{get: func(string, string) (string, error) {
		return "", dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}
	}}, time.Second)
	if _, err := ClientTokenOrFile(s, path); err == nil {
		t.Fatal("a locked keychain gave a token")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a token file was written for a locked keychain (%v)", err)
	}
}

func TestClientTokenFileConcurrentCreatorsAgree(t *testing.T) {
	if !secretServiceOS {
		t.Skip("D-Bus failures are classified only where go-keyring uses the Secret Service")
	}
	path := filepath.Join(t.TempDir(), TokenFileName)
	s := newKeyringStore(noBus(), time.Second)
	toks := make([]string, 8)
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			tok, err := ClientTokenOrFile(s, path)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok.Value
		})
	}
	wg.Wait()
	for _, tok := range toks[1:] {
		if tok != toks[0] {
			t.Fatal("concurrent creators got different tokens")
		}
	}
}

func TestEnvBackendWithoutTokenUsesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), TokenFileName)
	s := New(Options{Getenv: fakeEnv(map[string]string{BackendVar: "env"}), Logger: slog.New(slog.DiscardHandler)})
	tok, err := ClientTokenOrFile(s, path)
	if err != nil || tok.File != path || !strings.Contains(tok.Why, TokenVar) {
		t.Fatalf("env backend without %s: %+v, %v", TokenVar, tok.File, err)
	}
	s = New(Options{Getenv: fakeEnv(map[string]string{BackendVar: "env", TokenVar: "from-env-0123456789abcdef0123456789"}), Logger: slog.New(slog.DiscardHandler)})
	if tok, err := ClientTokenOrFile(s, path); err != nil || tok.Value != "from-env-0123456789abcdef0123456789" || tok.File != "" {
		t.Fatalf("env backend with %s: file %q, %v", TokenVar, tok.File, err)
	}
}
