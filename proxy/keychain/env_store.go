package keychain

import (
	"fmt"
	"strings"
)

// tokenRecipe is a shell command printing a value fit for CLEARWAY_TOKEN.
const tokenRecipe = "head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='"

// EnvVar returns the environment variable the env backend reads for a key
// name: CLEARWAY_TOKEN for ClientTokenName, otherwise CLEARWAY_KEY_ followed
// by the name upper-cased with every character other than A-Z and 0-9
// replaced by "_" ("my-key.v2" -> CLEARWAY_KEY_MY_KEY_V2). Distinct names
// can share a variable ("a-b" and "a_b").
func EnvVar(name string) string {
	if name == ClientTokenName {
		return TokenVar
	}
	var b strings.Builder
	b.WriteString(KeyVarPrefix)
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// envStore is the read-only, less safe fallback that reads secrets from
// environment variables. It is safe for concurrent use if its getenv is
// (os.Getenv is).
type envStore struct {
	getenv func(string) string
}

// Backend returns BackendEnv.
func (s *envStore) Backend() string { return BackendEnv }

// Get returns the value of EnvVar(name), without surrounding white space.
func (s *envStore) Get(name string) (string, error) {
	if err := checkStoreName("get", name); err != nil {
		return "", err
	}
	v := strings.TrimSpace(s.getenv(EnvVar(name)))
	if v == "" {
		advice := fmt.Sprintf("not found: %s=env reads it from %s, which is not set", BackendVar, EnvVar(name))
		if name == ClientTokenName {
			advice += "; set it to a long random value, e.g. the output of: " + tokenRecipe
		}
		return "", &Error{Op: "get", Name: name, Kind: ErrNotFound, advice: advice}
	}
	return v, nil
}

// Set fails with ErrReadOnly: environment variables are set by whoever
// starts clearway.
func (s *envStore) Set(name, _ string) error {
	return s.readOnly("set", name)
}

// Delete fails with ErrReadOnly.
func (s *envStore) Delete(name string) error {
	return s.readOnly("delete", name)
}

func (s *envStore) readOnly(op, name string) error {
	if err := checkStoreName(op, name); err != nil {
		return err
	}
	what := "set " + EnvVar(name) + " in clearway's environment instead"
	if op == "delete" {
		what = "unset " + EnvVar(name) + " in clearway's environment instead"
	}
	if name == ClientTokenName && op == "set" {
		what = "set " + TokenVar + " in clearway's environment instead, to a long random value, e.g. the output of: " + tokenRecipe
	}
	return &Error{Op: op, Name: name, Kind: ErrReadOnly, advice: fmt.Sprintf(
		"%s=env is read-only: %s, or unset %s to use the OS keychain", BackendVar, what, BackendVar)}
}
