package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"

	"github.com/clearway/clearway/proxy/keychain"
)

// checkKeychain: the key store's backend and state (ok, missing, locked), where
// the client token is kept, and every configured key (set or missing). Secrets
// are read only to learn whether they exist; none is printed.
func checkKeychain(ctx context.Context, o *Options) []Result {
	if o.Keys == nil {
		return nil
	}
	kc := Result{Name: "keychain"}
	// Reading the client token's entry tells reachable / locked / missing
	// apart without touching the user's keys.
	probe, ok := withTimeout(ctx, o.timeout()+o.timeout()/2, func() error {
		_, err := o.Keys.Get(keychain.ClientTokenName)
		return err
	})
	if !ok {
		probe = fmt.Errorf("the keychain did not answer within %v", o.timeout())
	}
	reachable := probe == nil || errors.Is(probe, keychain.ErrNotFound)
	unreachable := errors.Is(probe, keychain.ErrNoBus) || errors.Is(probe, keychain.ErrNoSecretService)
	backend := o.Keys.Backend()
	switch {
	case backend == keychain.BackendInvalid:
		kc.Status, kc.Detail = Fail, firstLine(probe.Error())
		kc.Fix = "unset " + keychain.BackendVar + " to use the OS keychain, or set it to env"
	case backend == keychain.BackendEnv:
		kc.Status = OK
		kc.Detail = keychain.BackendVar + "=env: keys come from " + keychain.KeyVarPrefix + "<NAME> variables (read-only, less safe than the OS keychain)"
	case reachable:
		kc.Status, kc.Detail = OK, osKeychain()+": reachable and unlocked"
	case unreachable:
		kc.Status = Warn
		kc.Detail = osKeychain() + " is not reachable: " + keychainWhy(probe)
		kc.Fix = "start a Secret Service (gnome-keyring, KeePassXC) in your desktop session; on a server set " +
			keychain.BackendVar + "=env and " + keychain.KeyVarPrefix + "<NAME> for API keys"
	case errors.Is(probe, keychain.ErrLocked):
		kc.Status, kc.Detail = Fail, osKeychain()+" is locked: keys cannot be read"
		kc.Fix = "unlock the login keyring (log in to the desktop session, or Seahorse / KeePassXC), then restart clearway"
	default:
		kc.Status, kc.Detail = Fail, osKeychain()+": "+keychainWhy(probe)
		kc.Fix = "check that the keychain service runs and answers, or set " + keychain.BackendVar + "=env on a machine without one"
	}
	out := []Result{kc, checkToken(o, probe, reachable, unreachable)}
	if o.Config == nil {
		return out
	}
	users := map[string][]string{}
	for _, u := range o.Config.Upstreams {
		for _, k := range u.KeyNames() {
			users[k] = append(users[k], u.Name)
		}
	}
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, checkKey(o, name, users[name], reachable || backend == keychain.BackendEnv, probe))
	}
	return out
}

// checkKey: one configured key, set or missing.
func checkKey(o *Options, name string, usedBy []string, readable bool, probe error) Result {
	r := Result{Name: "key:" + name}
	by := "used by " + strings.Join(usedBy, ", ")
	envFix := "set " + keychain.BackendVar + "=env and " + keychain.EnvVar(name) + " in clearway's environment"
	if !readable {
		r.Status = Warn
		r.Detail = "cannot tell whether it is set (" + by + "): the keychain is not usable; requests needing it get 401"
		r.Fix = envFix + ", or fix the keychain (see above)"
		if errors.Is(probe, keychain.ErrLocked) {
			r.Status, r.Fix = Fail, "unlock the keyring"
		}
		return r
	}
	_, err := o.Keys.Get(name)
	switch {
	case err == nil:
		r.Status, r.Detail = OK, "set ("+by+")"
	case errors.Is(err, keychain.ErrNotFound):
		r.Status = Warn
		r.Detail = "missing (" + by + "): requests to " + strings.Join(usedBy, ", ") + " get 401 until it is set"
		r.Fix = "`clearway keys set " + name + "` (the key is read from standard input)"
		if o.Keys.Backend() == keychain.BackendEnv {
			r.Fix = "set " + keychain.EnvVar(name) + " in clearway's environment"
		}
	default:
		r.Status, r.Detail = Fail, "cannot be read: "+keychainWhy(err)
		r.Fix = "fix the keychain (see above), then `clearway keys list`"
	}
	return r
}

// checkToken: where the client token lives.
func checkToken(o *Options, probe error, reachable, unreachable bool) Result {
	r := Result{Name: "client-token"}
	if o.Config != nil && !o.Config.ClientToken {
		r.Status, r.Detail = OK, "not required (client_token: false): any local client may use the proxy"
		return r
	}
	if o.Keys.Backend() == keychain.BackendEnv && o.getenv(keychain.TokenVar) != "" {
		r.Status, r.Detail = OK, "from "+keychain.TokenVar
		return r
	}
	if reachable && o.Keys.Backend() == keychain.BackendKeyring {
		r.Status = OK
		if probe == nil {
			r.Detail = "in the keychain (`clearway token` prints it)"
		} else {
			r.Detail = "not created yet: the first start creates it in the keychain"
		}
		return r
	}
	if !unreachable && o.Keys.Backend() != keychain.BackendEnv {
		r.Status, r.Detail, r.Fix = Fail, "cannot be read: the keychain is not usable", "fix the keychain (see above)"
		return r
	}
	if o.TokenFile == "" {
		r.Status, r.Detail = Fail, "no keychain, and no token file fallback"
		r.Fix = "set " + keychain.TokenVar + " with " + keychain.BackendVar + "=env, or client_token: false"
		return r
	}
	fi, err := os.Stat(o.TokenFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Status, r.Detail = OK, "no keychain here: the first start creates it in "+o.TokenFile+" (mode 0600)"
	case err != nil:
		r.Status, r.Detail, r.Fix = Fail, "token file: "+err.Error(), "check "+o.TokenFile
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0:
		r.Status = Fail
		r.Detail = fmt.Sprintf("%s has mode %04o: other users can read the token", o.TokenFile, fi.Mode().Perm())
		r.Fix = "chmod 600 " + o.TokenFile + " and `clearway token --rotate`"
	default:
		r.Status, r.Detail = OK, "no keychain here: kept in "+o.TokenFile+fmt.Sprintf(" (mode %04o)", fi.Mode().Perm())
	}
	return r
}

// osKeychain names the OS keychain.
func osKeychain() string {
	switch runtime.GOOS {
	case "windows":
		return "Windows Credential Manager"
	case "darwin":
		return "macOS Keychain"
	default:
		return "Secret Service"
	}
}

// keychainWhy is a keychain error's reason in a few words: the kind's own
// message for the failures clearway knows (the fix line says what to do),
// else the error without its "keychain: get NAME:" prefix.
func keychainWhy(err error) string {
	if err == nil {
		return ""
	}
	for _, kind := range []error{keychain.ErrNoBus, keychain.ErrNoSecretService, keychain.ErrLocked, keychain.ErrTimeout} {
		if errors.Is(err, kind) {
			return strings.TrimPrefix(kind.Error(), "keychain: ")
		}
	}
	s := firstLine(err.Error())
	var ke *keychain.Error
	if errors.As(err, &ke) {
		if i := strings.Index(s, fmt.Sprintf("%q: ", ke.Name)); i >= 0 {
			s = s[i+len(fmt.Sprintf("%q: ", ke.Name)):]
		}
	}
	return s
}
