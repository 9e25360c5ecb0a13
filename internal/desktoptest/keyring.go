package desktoptest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// KeyringPassword is the password of the login keyring StartKeyring creates.
const KeyringPassword = "desktoptest"

// SecretServiceName is the bus name of the Secret Service.
const SecretServiceName = "org.freedesktop.secrets"

// LoginCollection is the object path of the login keyring in gnome-keyring.
const LoginCollection = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")

const (
	secretServicePath  = dbus.ObjectPath("/org/freedesktop/secrets")
	secretServiceIface = "org.freedesktop.Secret.Service"
	// gnome-keyring's own interface for unlocking without a prompt.
	gnomeKeyringInternalIface = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
)

// Keyring is a gnome-keyring-daemon providing the Secret Service
// (org.freedesktop.secrets) on a private bus, with its login keyring in a
// temporary HOME. Its zero value is not usable: create one with
// StartKeyring. Its methods may be called from several goroutines.
type Keyring struct {
	// Home is the temporary HOME; the keyring file is
	// Home/.local/share/keyrings/login.keyring.
	Home string
	// RuntimeDir is the temporary XDG_RUNTIME_DIR (mode 0700).
	RuntimeDir string

	bus  *Bus
	proc *process
	env  []string // the variables StartKeyring set
}

// StartKeyring starts gnome-keyring-daemon --foreground --unlock
// --components=secrets on the bus, with a new login keyring unlocked by
// KeyringPassword, and waits until it owns org.freedesktop.secrets. It sets
// HOME, XDG_RUNTIME_DIR (0700), XDG_DATA_HOME, XDG_CONFIG_HOME and
// XDG_CACHE_HOME to temporary folders with t.Setenv (so nothing touches the
// real user's keyring; code using adrg/xdg must call xdg.Reload), and stops
// the daemon in t.Cleanup.
func StartKeyring(t testing.TB, b *Bus) *Keyring {
	t.Helper()
	bin := Require(t, "gnome-keyring-daemon")["gnome-keyring-daemon"]

	home := t.TempDir()
	runtimeDir := shortTempDir(t) // holds the keyring's control socket
	if err := os.Chmod(runtimeDir, 0o700); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	k := &Keyring{Home: home, RuntimeDir: runtimeDir, bus: b}
	vars := [][2]string{
		{"HOME", home},
		{"XDG_RUNTIME_DIR", runtimeDir},
		{"XDG_DATA_HOME", filepath.Join(home, ".local", "share")},
		{"XDG_CONFIG_HOME", filepath.Join(home, ".config")},
		{"XDG_CACHE_HOME", filepath.Join(home, ".cache")},
		{"DBUS_SESSION_BUS_ADDRESS", b.Addr},
	}
	for _, v := range vars {
		t.Setenv(v[0], v[1])
		k.env = append(k.env, v[0]+"="+v[1])
	}

	cmd := exec.Command(bin, "--foreground", "--unlock", "--components=secrets")
	cmd.Stdin = strings.NewReader(KeyringPassword)
	cmd.Env = os.Environ()
	cmd.Dir = home
	proc, err := startProcess(t, "gnome-keyring-daemon", cmd)
	if err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
	k.proc = proc
	t.Cleanup(func() { proc.stop(t) })

	if err := b.waitForOwner(SecretServiceName, true, startTimeout, proc.exitedErr); err != nil {
		t.Fatalf("desktoptest: gnome-keyring did not start: %v; its output:\n%s", err, proc.output())
	}
	return k
}

// Env returns the current environment with the variables StartKeyring set
// (HOME, XDG_*, DBUS_SESSION_BUS_ADDRESS), ready for exec.Cmd.Env.
func (k *Keyring) Env() []string {
	return append(os.Environ(), k.env...)
}

// Lookup returns the secret stored with attributes service and username,
// read with `secret-tool lookup service SERVICE username USER` (the
// attributes go-keyring writes), and whether one was found.
func (k *Keyring) Lookup(t testing.TB, service, user string) (string, bool) {
	t.Helper()
	bin := Require(t, "secret-tool")["secret-tool"]
	cmd := exec.Command(bin, "lookup", "service", service, "username", user)
	cmd.Env = k.Env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		// secret-tool adds no newline when its output is not a terminal.
		return stdout.String(), true
	case errors.As(err, &exit) && exit.ExitCode() == 1 && stdout.Len() == 0 && stderr.Len() == 0:
		return "", false
	default:
		t.Fatalf("desktoptest: secret-tool lookup service %s username %s: %v: %s", service, user, err, stderr.String())
		return "", false
	}
}

// Store writes a secret with attributes service and username through
// `secret-tool store`, as another Secret Service client would.
func (k *Keyring) Store(t testing.TB, service, user, secret string) {
	t.Helper()
	bin := Require(t, "secret-tool")["secret-tool"]
	cmd := exec.Command(bin, "store", "--label=desktoptest "+service+"/"+user, "service", service, "username", user)
	cmd.Env = k.Env()
	cmd.Stdin = strings.NewReader(secret)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("desktoptest: secret-tool store service %s username %s: %v: %s", service, user, err, out)
	}
}

// Lock locks the login keyring through org.freedesktop.Secret.Service.Lock,
// as a screen locker would. Reading a secret then needs a prompt, which
// cannot appear on the private bus (no org.gnome.keyring.SystemPrompter), so
// clients get an error.
func (k *Keyring) Lock(t testing.TB) {
	t.Helper()
	conn := k.bus.Conn(t)
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := conn.Object(SecretServiceName, secretServicePath).
		Call(secretServiceIface+".Lock", 0, []dbus.ObjectPath{LoginCollection}).
		Store(&locked, &prompt)
	if err != nil {
		t.Fatalf("desktoptest: lock the login keyring: %v", err)
	}
	if len(locked) != 1 || locked[0] != LoginCollection || prompt != "/" {
		t.Fatalf("desktoptest: lock the login keyring: locked %v, prompt %s", locked, prompt)
	}
}

// Unlock unlocks the login keyring again with KeyringPassword, without a
// prompt, through gnome-keyring's
// InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword.
func (k *Keyring) Unlock(t testing.TB) {
	t.Helper()
	conn := k.bus.Conn(t)
	service := conn.Object(SecretServiceName, secretServicePath)
	var output dbus.Variant
	var session dbus.ObjectPath
	if err := service.Call(secretServiceIface+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&output, &session); err != nil {
		t.Fatalf("desktoptest: open a Secret Service session: %v", err)
	}
	master := struct {
		Session     dbus.ObjectPath
		Parameters  []byte
		Value       []byte
		ContentType string
	}{session, []byte{}, []byte(KeyringPassword), "text/plain"}
	if err := service.Call(gnomeKeyringInternalIface+".UnlockWithMasterPassword", 0, LoginCollection, master).Err; err != nil {
		t.Fatalf("desktoptest: unlock the login keyring: %v", err)
	}
}

// Stop stops the daemon, as if the Secret Service went away in the middle of
// a run, and waits until org.freedesktop.secrets has no owner. It is
// idempotent; StartKeyring's cleanup calls it too.
func (k *Keyring) Stop(t testing.TB) {
	t.Helper()
	k.proc.stop(t)
	if err := k.bus.waitForOwner(SecretServiceName, false, stopGrace, nil); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
}

// KeyringFile returns the path of the login keyring file.
func (k *Keyring) KeyringFile() string {
	return filepath.Join(k.Home, ".local", "share", "keyrings", "login.keyring")
}

// String describes the keyring for test logs.
func (k *Keyring) String() string {
	return fmt.Sprintf("gnome-keyring(home=%s, bus=%s)", k.Home, k.bus.Addr)
}
