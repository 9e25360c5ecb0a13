// Package keychain keeps clearway's secrets, the users' API keys and the
// local client token, in the operating system's keychain: the Secret Service
// on Linux (gnome-keyring, KeePassXC), the Keychain on macOS and the
// Credential Manager on Windows, through github.com/zalando/go-keyring.
//
// Every entry lives under the service name Service, with the key name as the
// user name, so `secret-tool lookup service clearway username NAME` reads it
// on Linux. Every call has a timeout, because a misconfigured Linux session
// can block a keyring call for two minutes, and every known failure (no
// Secret Service, no session bus, a locked keyring, a timeout) comes back as
// an *Error whose message says what is wrong and what to do.
//
// On a headless machine without a keychain, CLEARWAY_KEYCHAIN=env selects an
// explicit, read-only and less safe fallback that reads keys from environment
// variables (see EnvVar). API keys are never written to a plain file; only the
// client token, a local and rotatable credential, falls back to a private file
// on a machine where no keychain is reachable (see ClientTokenOrFile).
package keychain

import (
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Service is the service name under which every clearway entry is stored.
const Service = "clearway"

// ClientTokenName is the entry holding the local client token. Names
// starting with "_" are reserved for clearway itself (see ValidName).
const ClientTokenName = "_client_token"

// The values Store.Backend returns.
const (
	// BackendKeyring is the operating system's keychain.
	BackendKeyring = "keyring"
	// BackendEnv is the read-only environment fallback.
	BackendEnv = "env"
	// BackendInvalid is reported when BackendVar names no known backend;
	// every call of such a Store fails with an error saying so.
	BackendInvalid = "invalid"
)

// Environment variables read by New and the env backend.
const (
	// BackendVar selects the backend: unset, empty or "keyring" for the
	// OS keychain, "env" for the environment fallback.
	BackendVar = "CLEARWAY_KEYCHAIN"
	// TokenVar holds the client token for the env backend.
	TokenVar = "CLEARWAY_TOKEN"
	// KeyVarPrefix starts the variable holding a key for the env backend.
	KeyVarPrefix = "CLEARWAY_KEY_"
)

// DefaultTimeout bounds each keychain call when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Store reads and writes named secrets. Implementations are safe for
// concurrent use. Get and Delete return an error matching ErrNotFound (with
// errors.Is) when the entry does not exist.
type Store interface {
	// Get returns the secret stored under name.
	Get(name string) (string, error)
	// Set stores secret under name, replacing any previous value.
	Set(name, secret string) error
	// Delete removes the entry; it returns an ErrNotFound error if there is
	// none.
	Delete(name string) error
	// Backend names the backend: BackendKeyring or BackendEnv (or
	// BackendInvalid, see New).
	Backend() string
}

// Options configures New. The zero value is ready to use: a 5 s timeout,
// os.Getenv and slog.Default().
type Options struct {
	// Timeout bounds each call; zero or negative means DefaultTimeout. A
	// misconfigured Linux session can block a Secret Service call for 120 s.
	Timeout time.Duration
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives the warning that the env backend is less safe; nil
	// means slog.Default(). Secrets are never logged.
	Logger *slog.Logger
}

// New returns the Store selected by the environment: the OS keychain, unless
// CLEARWAY_KEYCHAIN=env selects the explicit, documented and less safe
// environment fallback, in which case New logs one warning saying so. The
// env backend is read-only: key NAME is read from CLEARWAY_KEY_<NAME> (see
// EnvVar) and the client token from CLEARWAY_TOKEN.
//
// Any other value of CLEARWAY_KEYCHAIN gives a Store whose Backend is
// BackendInvalid and whose every call returns an error naming the bad value,
// rather than silently choosing a backend the user did not ask for.
func New(opts Options) Store {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	switch v := getenv(BackendVar); v {
	case "", BackendKeyring:
		return newKeyringStore(goKeyring, timeout)
	case BackendEnv:
		logger.Warn("keychain: "+BackendVar+"=env reads API keys and the client token from environment variables; "+
			"this is less safe than the OS keychain (other processes of the same user can read them)",
			"backend", BackendEnv)
		return &envStore{getenv: getenv}
	default:
		return invalidStore{err: fmt.Errorf("keychain: %s=%q is not a backend: leave it unset to use the OS keychain, or set it to %q", BackendVar, v, BackendEnv)}
	}
}

// invalidStore is the Store New returns for an unknown CLEARWAY_KEYCHAIN.
type invalidStore struct{ err error }

func (s invalidStore) Get(string) (string, error) { return "", s.err }
func (s invalidStore) Set(string, string) error   { return s.err }
func (s invalidStore) Delete(string) error        { return s.err }
func (s invalidStore) Backend() string            { return BackendInvalid }
