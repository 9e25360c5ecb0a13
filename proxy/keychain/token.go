package keychain

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// TokenBytes is the number of random bytes in a client token.
const TokenBytes = 32

// GenerateToken returns a new client token: TokenBytes random bytes from
// crypto/rand, base64 URL-encoded without padding (43 characters of
// A-Z a-z 0-9 - _).
func GenerateToken() (string, error) {
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keychain: generate a client token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ClientToken returns the client token kept in s under ClientTokenName,
// creating and storing a new one the first time (created is then true).
//
// After storing a new token it reads it back and returns what the keychain
// holds, so two processes creating it at once usually agree; a long-running
// proxy should still read the token again now and then.
func ClientToken(s Store) (token string, created bool, err error) {
	token, err = s.Get(ClientTokenName)
	if err == nil {
		return token, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", false, err
	}
	fresh, err := GenerateToken()
	if err != nil {
		return "", false, err
	}
	if err := s.Set(ClientTokenName, fresh); err != nil {
		return "", false, err
	}
	token, err = s.Get(ClientTokenName)
	if err != nil {
		return "", false, err
	}
	return token, token == fresh, nil
}

// RotateClientToken stores a new client token in s, replacing the old one,
// and returns it. IDEs configured with the old token get 401 until they are
// given the new one.
func RotateClientToken(s Store) (string, error) {
	token, err := GenerateToken()
	if err != nil {
		return "", err
	}
	if err := s.Set(ClientTokenName, token); err != nil {
		return "", err
	}
	return token, nil
}
