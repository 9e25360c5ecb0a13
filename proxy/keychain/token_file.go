package keychain

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/clearway/clearway/internal/atomicfile"
	"github.com/clearway/clearway/internal/privdir"
)

// TokenFileName is the file, in clearway's state folder, that holds the client
// token on a machine where no keychain is reachable (see ClientTokenOrFile).
const TokenFileName = "client_token"

// Token is the client token and where it is kept. The zero value is no token.
type Token struct {
	// Value is the token itself: a secret, never log it.
	Value string
	// File is the fallback file holding it; "" when it is in the key store
	// (the keychain, or CLEARWAY_TOKEN with the env backend).
	File string
	// Why says, when File is set, why the key store was not used, e.g. "no
	// D-Bus session bus". It holds no secret.
	Why string
	// Created is true when this call made a new token.
	Created bool
}

// Unreachable reports whether err says that no keychain is reachable on this
// machine (no session bus, or nothing provides the Secret Service), as opposed
// to a keychain that is there but locked, slow or failing.
func Unreachable(err error) bool {
	return errors.Is(err, ErrNoBus) || errors.Is(err, ErrNoSecretService)
}

// ClientTokenOrFile returns the client token from s like ClientToken, but on a
// machine with no reachable keychain (Unreachable, or the env backend without
// CLEARWAY_TOKEN) it reads the token from the file at path instead, creating it
// the first time: mode 0600 in a folder created 0700. The client token is a
// local, rotatable credential, so this fallback is allowed for it; API keys
// never fall back to a file.
//
// A keychain that is reachable but locked or failing is an error, as with
// ClientToken: the fallback is for machines without a keychain, not for
// hiding a keychain problem. When the keychain is reachable, holds no token
// and the file holds one (the machine gained a keychain), the file's token
// moves into the keychain and the file is removed, so configured IDEs keep
// working.
//
// The file is refused (an error saying what to do) when its folder can be
// written by others or the file can be read by others (not checked on
// Windows, where the profile's ACL applies).
//
// A token shorter than MinTokenLength is refused (ErrWeakToken) with the way
// to make a new one; RotateClientTokenOrFile still replaces it.
func ClientTokenOrFile(s Store, path string) (Token, error) {
	t, err := clientTokenOrFile(s, path)
	if err == nil {
		err = checkToken(s, t.Value)
	}
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

func clientTokenOrFile(s Store, path string) (Token, error) {
	tok, err := s.Get(ClientTokenName)
	switch {
	case err == nil:
		return Token{Value: tok}, nil
	case errors.Is(err, ErrNotFound) && s.Backend() == BackendKeyring:
		if ft, ferr := readTokenFile(path); ferr == nil && ft != "" {
			if err := s.Set(ClientTokenName, ft); err == nil {
				if back, err := s.Get(ClientTokenName); err == nil && subtle.ConstantTimeCompare([]byte(back), []byte(ft)) == 1 {
					_ = os.Remove(path)
					return Token{Value: ft}, nil
				}
			}
			return Token{Value: ft, File: path, Why: "the keychain did not take the token over from the file"}, nil
		}
		tok, created, err := ClientToken(s)
		if err == nil {
			return Token{Value: tok, Created: created}, nil
		}
		if !Unreachable(err) {
			return Token{}, err
		}
		return fileToken(path, why(err))
	case errors.Is(err, ErrNotFound) && s.Backend() == BackendEnv:
		return fileToken(path, BackendVar+"=env and "+TokenVar+" is not set")
	case Unreachable(err):
		return fileToken(path, why(err))
	default:
		return Token{}, err
	}
}

// RotateClientTokenOrFile replaces the client token where ClientTokenOrFile
// keeps it (the keychain, or the fallback file) and returns the new one.
func RotateClientTokenOrFile(s Store, path string) (Token, error) {
	cur, err := clientTokenOrFile(s, path) // a short token is what rotating fixes
	if err != nil {
		return Token{}, err
	}
	if cur.File == "" {
		tok, err := RotateClientToken(s)
		return Token{Value: tok, Created: true}, err
	}
	fresh, err := GenerateToken()
	if err != nil {
		return Token{}, err
	}
	if err := writeTokenFile(path, fresh, true); err != nil {
		return Token{}, err
	}
	return Token{Value: fresh, File: path, Why: cur.Why, Created: true}, nil
}

// why is an unreachable keychain's reason in a few words.
func why(err error) string {
	switch {
	case errors.Is(err, ErrNoBus):
		return "no D-Bus session bus"
	case errors.Is(err, ErrNoSecretService):
		return "no Secret Service on the session bus"
	}
	return err.Error()
}

// fileToken reads the token file, creating it with a new token if missing.
func fileToken(path, reason string) (Token, error) {
	tok, err := readTokenFile(path)
	if err == nil && tok != "" {
		return Token{Value: tok, File: path, Why: reason}, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Token{}, err
	}
	fresh, err := GenerateToken()
	if err != nil {
		return Token{}, err
	}
	if err := writeTokenFile(path, fresh, false); err != nil {
		return Token{}, err
	}
	// Another process may have created it first: what the file holds wins.
	tok, err = readTokenFile(path)
	if err != nil {
		return Token{}, err
	}
	return Token{Value: tok, File: path, Why: reason, Created: tok == fresh}, nil
}

// readTokenFile returns the file's token (trimmed), refusing a file others
// can read or a folder others can write.
func readTokenFile(path string) (string, error) {
	if err := checkTokenDir(filepath.Dir(path), false); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|privdir.NoFollow, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("client token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("client token file %s is not a regular file: move it aside", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("client token file %s has mode %04o, so other users may have read it: run `chmod 600 %s` and then `clearway token --rotate`", path, fi.Mode().Perm(), path)
	}
	b := make([]byte, 256)
	n, _ := f.Read(b)
	return strings.TrimSpace(string(b[:n])), nil
}

// writeTokenFile writes tok to path (0600) atomically. Without replace, an
// existing file is kept (atomicfile.WriteNew), so two processes creating the
// token at once agree on the first one.
func writeTokenFile(path, tok string, replace bool) error {
	if err := checkTokenDir(filepath.Dir(path), true); err != nil {
		return err
	}
	data := []byte(tok + "\n")
	if replace {
		if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("client token file: %w", err)
		}
		return nil
	}
	if err := atomicfile.WriteNew(path, data, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("client token file: %w", err)
	}
	return nil
}

// checkTokenDir refuses a folder others can write; with create it makes a
// missing folder (and its parents) with mode 0700.
func checkTokenDir(dir string, create bool) error {
	// internal/privdir: created 0700, a folder others can only read is set
	// to 0700, one others can write or another user owns is refused.
	var err error
	if create {
		_, err = privdir.Ensure(dir)
	} else {
		_, err = privdir.Check(dir)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("client token folder: %w", err)
	}
	return err
}
