package keychain

import (
	"fmt"
	"time"

	"github.com/zalando/go-keyring"
)

// maxHungCalls bounds how many keychain calls may be running at once,
// including calls that already timed out but whose goroutine is still
// blocked in the OS keychain.
const maxHungCalls = 8

// backend is the OS keychain API; tests replace it.
type backend struct {
	get func(service, user string) (string, error)
	set func(service, user, secret string) error
	del func(service, user string) error
}

// goKeyring is the real OS keychain.
var goKeyring = backend{get: keyring.Get, set: keyring.Set, del: keyring.Delete}

// keyringStore is the Store over the OS keychain. Each call runs in its own
// goroutine and returns ErrTimeout after timeout; the goroutine may linger
// until the OS keychain answers (go-keyring has no cancellation), so a Set
// that timed out may still take effect later. At most maxHungCalls such
// goroutines exist at once: beyond that, calls wait for a free slot within
// their own timeout.
type keyringStore struct {
	backend backend
	timeout time.Duration
	slots   chan struct{} // one token per running call
}

func newKeyringStore(b backend, timeout time.Duration) *keyringStore {
	return &keyringStore{backend: b, timeout: timeout, slots: make(chan struct{}, maxHungCalls)}
}

// Backend returns BackendKeyring.
func (s *keyringStore) Backend() string { return BackendKeyring }

// Get returns the secret stored under name.
func (s *keyringStore) Get(name string) (string, error) {
	if err := checkStoreName("get", name); err != nil {
		return "", err
	}
	return s.call("get", name, func() (string, error) { return s.backend.get(Service, name) })
}

// Set stores secret under name, replacing any previous value.
func (s *keyringStore) Set(name, secret string) error {
	if err := checkStoreName("set", name); err != nil {
		return err
	}
	if secret == "" {
		return &Error{Op: "set", Name: name, advice: "the secret is empty: nothing was stored"}
	}
	_, err := s.call("set", name, func() (string, error) { return "", s.backend.set(Service, name, secret) })
	return err
}

// Delete removes the entry stored under name.
func (s *keyringStore) Delete(name string) error {
	if err := checkStoreName("delete", name); err != nil {
		return err
	}
	_, err := s.call("delete", name, func() (string, error) { return "", s.backend.del(Service, name) })
	return err
}

// call runs fn with the timeout and classifies its error.
func (s *keyringStore) call(op, name string, fn func() (string, error)) (string, error) {
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	timedOut := func() error {
		return &Error{Op: op, Name: name, Kind: ErrTimeout, advice: adviceTimeout(s.timeout)}
	}

	select {
	case s.slots <- struct{}{}:
	case <-timer.C:
		return "", timedOut()
	}
	type result struct {
		value string
		err   error
	}
	done := make(chan result, 1) // buffered: a late answer must not block
	go func() {
		defer func() { <-s.slots }()
		defer func() {
			// go-keyring type-asserts D-Bus replies; a misbehaving
			// service must not crash the proxy.
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("unexpected answer from the keychain: %v", p)}
			}
		}()
		v, err := fn()
		done <- result{v, err}
	}()

	select {
	case r := <-done:
		if r.err != nil {
			return "", keyringError(op, name, r.err)
		}
		return r.value, nil
	case <-timer.C:
		return "", timedOut()
	}
}
