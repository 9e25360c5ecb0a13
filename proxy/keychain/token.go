package keychain

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// TokenBytes is the number of random bytes in a client token.
const TokenBytes = 32

// MinTokenLength is the shortest client token clearway accepts: a token is
// the only thing between another local process (or, with allow_remote,
// another machine) and the user's keys; 32 characters of base64 carry 192
// bits. A generated one has 43.
const MinTokenLength = 32

// ErrWeakToken is matched (errors.Is) by ClientToken's error when the stored
// token (or CLEARWAY_TOKEN) is shorter than MinTokenLength.
var ErrWeakToken = errors.New("client token too short")

// checkToken refuses a token shorter than MinTokenLength, saying how to make
// a good one for the store in use. It never quotes the token.
func checkToken(s Store, token string) error {
	if len(token) >= MinTokenLength {
		return nil
	}
	fix := "run `clearway token --rotate` to store a new random one (then give it to your tools)"
	if _, ok := s.(*envStore); ok {
		fix = "set " + TokenVar + " to at least " + fmt.Sprint(MinTokenLength) + " random characters, for example the output of: " + tokenRecipe
	}
	return fmt.Errorf("keychain: the client token is %d characters, shorter than the %d clearway requires; %s: %w",
		len(token), MinTokenLength, fix, ErrWeakToken)
}

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
// creating and storing a new one the first time (created is then true). A
// stored token shorter than MinTokenLength is refused (ErrWeakToken) with
// the way to make a new one.
//
// After storing a new token it reads it back and returns what the keychain
// holds, so two processes creating it at once usually agree; a long-running
// proxy should still read the token again now and then.
func ClientToken(s Store) (token string, created bool, err error) {
	token, err = s.Get(ClientTokenName)
	if err == nil {
		if err := checkToken(s, token); err != nil {
			return "", false, err
		}
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
