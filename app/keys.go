package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// KeychainTimeout bounds every keychain call: a misconfigured Linux session
// can block one for 120 s.
const KeychainTimeout = 5 * time.Second

// OpenKeychain returns the key store: the OS keychain, or the environment
// when CLEARWAY_KEYCHAIN=env. A nil logger means slog.Default().
func OpenKeychain(log *slog.Logger) keychain.Store {
	return keychain.New(keychain.Options{Timeout: KeychainTimeout, Logger: log})
}

// ClientToken returns the client token when cfg requires one (the zero Token
// when it does not): from the keychain, or, on a machine where no keychain is
// reachable, from tokenFile (created 0600 in a 0700 folder; see
// keychain.ClientTokenOrFile).
func ClientToken(cfg *config.Config, keys keychain.Store, tokenFile string) (keychain.Token, error) {
	if !cfg.ClientToken {
		return keychain.Token{}, nil
	}
	tok, err := keychain.ClientTokenOrFile(keys, tokenFile)
	if err != nil {
		return keychain.Token{}, fmt.Errorf("client token: %w\n(or set client_token: false in %s to accept any local client)", err, ConfigShown(cfg))
	}
	return tok, nil
}

// ConfigShown is the config file to name in messages: the one loaded, or
// where one would go when the built-in default serves.
func ConfigShown(cfg *config.Config) string {
	if cfg.Source == config.EmbeddedSource {
		return config.Path()
	}
	return cfg.Source
}

// MissingKeyHint says how to provide a key with the key store in use: the
// keychain CLI, or the environment variable of the env fallback. unreachable,
// when not "", says why there is no keychain on this machine (e.g. "no D-Bus
// session bus"): the hint then names CLEARWAY_KEYCHAIN=env and the key's
// CLEARWAY_KEY_ variable, since keys never fall back to a file.
func MissingKeyHint(keys keychain.Store, unreachable string) func(name string) string {
	if keys.Backend() == keychain.BackendEnv {
		return func(name string) string {
			return "set " + keychain.EnvVar(name) + " in clearway's environment (CLEARWAY_KEYCHAIN=env)"
		}
	}
	if unreachable != "" {
		return func(name string) string {
			return "no keychain is reachable here (" + unreachable + "): start clearway with " + keychain.BackendVar +
				"=env and " + keychain.EnvVar(name) + " set, or run it in a desktop session with a Secret Service and `clearway keys set " + name + "`"
		}
	}
	return func(name string) string { return "run `clearway keys set " + name + "`" }
}

// KeyUsers maps each key name the config uses to the upstreams that send
// it, in configuration order.
func KeyUsers(cfg *config.Config) map[string][]string {
	users := map[string][]string{}
	for _, up := range cfg.Upstreams {
		for _, k := range up.KeyNames() {
			users[k] = append(users[k], up.Name)
		}
	}
	return users
}
