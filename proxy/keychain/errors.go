package keychain

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// Kinds of failure. A failed call returns an *Error; test its kind with
// errors.Is(err, ErrNoSecretService) and so on. The sentinels' own messages
// are short; the *Error's message explains what to do.
var (
	// ErrNotFound: no entry has this name.
	ErrNotFound = errors.New("keychain: not found")
	// ErrNoSecretService: the session bus works but nothing provides
	// org.freedesktop.secrets (or it went away).
	ErrNoSecretService = errors.New("keychain: no Secret Service on the session bus")
	// ErrNoBus: there is no usable D-Bus session bus (none configured, a
	// dead socket, no dbus-launch, or the bus went away).
	ErrNoBus = errors.New("keychain: no D-Bus session bus")
	// ErrLocked: the keyring is locked and could not be unlocked without a
	// prompt.
	ErrLocked = errors.New("keychain: the keyring is locked")
	// ErrTimeout: the keychain did not answer within Options.Timeout.
	ErrTimeout = errors.New("keychain: timed out")
	// ErrReadOnly: the env backend cannot store or delete.
	ErrReadOnly = errors.New("keychain: read-only backend")
	// ErrInvalidName: a key name is not usable (see ValidName).
	ErrInvalidName = errors.New("keychain: invalid key name")
)

// Error is a failed keychain call. Its message says what went wrong and
// what to do, and never contains a secret. The zero value is not meaningful;
// Error values are created by the Stores of this package and are immutable.
type Error struct {
	// Op is "get", "set" or "delete".
	Op string
	// Name is the key name of the call.
	Name string
	// Kind is one of the sentinel errors above, or nil when the failure is
	// not one clearway knows (then Err says what happened).
	Kind error
	// Err is the underlying error from go-keyring or D-Bus, if any.
	Err error

	advice string // what is wrong and what to do, in words
}

// Error returns e.g. `keychain: get "anthropic": no Secret Service on the
// session bus: install and start ... (cause)`.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "keychain: %s %q: ", e.Op, e.Name)
	switch {
	case e.advice != "" && e.Err != nil:
		fmt.Fprintf(&b, "%s (%v)", e.advice, e.Err)
	case e.advice != "":
		b.WriteString(e.advice)
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	case e.Kind != nil:
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "keychain: "))
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is and errors.As see both.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Advice for each kind of keyring failure.
const (
	adviceNoSecretService = "no Secret Service on the session bus: install and start gnome-keyring or KeePassXC's secret service, or set " + BackendVar + "=env"
	adviceNoBus           = "no D-Bus session bus: run clearway inside your desktop session (DBUS_SESSION_BUS_ADDRESS must point at a running session bus), or set " + BackendVar + "=env"
	adviceLocked          = "the keyring is locked: unlock it (log in to your desktop session, or unlock the \"Login\" keyring in Seahorse or KeePassXC) and try again"
)

func adviceTimeout(d time.Duration) string {
	return fmt.Sprintf("the keychain did not answer within %v: check that the Secret Service (gnome-keyring or KeePassXC) is running and not waiting for a password prompt, or set %s=env", d, BackendVar)
}

// secretServiceOS reports whether go-keyring talks to the Secret Service
// over D-Bus here (everywhere but macOS and Windows).
var secretServiceOS = runtime.GOOS != "darwin" && runtime.GOOS != "windows"

// keyringError turns an error from go-keyring into an *Error of a known kind
// when it can.
func keyringError(op, name string, err error) error {
	kind := classify(err, secretServiceOS)
	e := &Error{Op: op, Name: name, Kind: kind, Err: err}
	switch kind {
	case ErrNotFound:
		e.Err = nil // go-keyring's "secret not found in keyring" adds nothing
	case ErrNoSecretService:
		e.advice = adviceNoSecretService
	case ErrNoBus:
		e.advice = adviceNoBus
	case ErrLocked:
		e.advice = adviceLocked
	}
	return e
}

// classify returns the kind of a go-keyring error, or nil. The D-Bus
// failures are recognised only when secretService is true: on macOS and
// Windows an *exec.Error, say, has nothing to do with a session bus.
func classify(err error, secretService bool) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrNotFound
	}
	if !secretService {
		return nil
	}

	// An error reply from the bus or the service.
	var dbusErr dbus.Error
	var dbusErrPtr *dbus.Error
	name := ""
	if errors.As(err, &dbusErr) {
		name = dbusErr.Name
	} else if errors.As(err, &dbusErrPtr) && dbusErrPtr != nil {
		name = dbusErrPtr.Name
	}
	switch {
	case name == "org.freedesktop.DBus.Error.ServiceUnknown",
		name == "org.freedesktop.DBus.Error.NameHasNoOwner",
		name == "org.freedesktop.DBus.Error.NoReply", // the service exited mid-call
		strings.HasPrefix(name, "org.freedesktop.DBus.Error.Spawn."):
		return ErrNoSecretService
	case name == "org.freedesktop.Secret.Error.IsLocked":
		return ErrLocked
	case name != "":
		return nil
	}

	// go-keyring's own message when Unlock came back without the collection
	// (the unlock prompt was dismissed or could not be shown).
	if strings.Contains(err.Error(), "failed to unlock correct collection") {
		return ErrLocked
	}

	// No bus: no address and no dbus-launch, a dead socket, a bus that
	// went away.
	var execErr *exec.Error
	var exitErr *exec.ExitError
	var opErr *net.OpError
	switch {
	case errors.As(err, &execErr), errors.As(err, &exitErr), errors.As(err, &opErr):
		return ErrNoBus
	case errors.Is(err, dbus.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ENOENT):
		return ErrNoBus
	}
	msg := err.Error()
	for _, prefix := range []string{
		"dbus: couldn't determine address",
		"dbus: invalid",
		"dbus: unsupported transport",
		"dbus: authentication failed",
	} {
		if strings.HasPrefix(msg, prefix) {
			return ErrNoBus
		}
	}
	return nil
}
