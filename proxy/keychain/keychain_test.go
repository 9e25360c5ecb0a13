package keychain

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
	"go.uber.org/goleak"
)

// fakeEnv is a Getenv over a map.
func fakeEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestNewSelectsTheBackendFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		value, backend string
		warnings       int
	}{
		{"", BackendKeyring, 0},
		{"keyring", BackendKeyring, 0},
		{"env", BackendEnv, 1},
		{"evn", BackendInvalid, 0},
		{"file", BackendInvalid, 0},
	} {
		t.Run(tc.value, func(t *testing.T) {
			var logs bytes.Buffer
			s := New(Options{
				Getenv: fakeEnv(map[string]string{BackendVar: tc.value}),
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if got := s.Backend(); got != tc.backend {
				t.Fatalf("Backend() = %q, want %q", got, tc.backend)
			}
			if got := strings.Count(logs.String(), "level=WARN"); got != tc.warnings {
				t.Errorf("%d warnings logged, want %d:\n%s", got, tc.warnings, logs.String())
			}
			if tc.warnings > 0 && !strings.Contains(logs.String(), "less safe") {
				t.Errorf("the warning does not say the env backend is less safe: %s", logs.String())
			}
		})
	}
}

func TestInvalidBackendFailsEveryCallNamingTheValue(t *testing.T) {
	s := New(Options{Getenv: fakeEnv(map[string]string{BackendVar: "evn"})})
	want := `CLEARWAY_KEYCHAIN="evn" is not a backend`
	if _, err := s.Get("anthropic"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Get: %v, want an error containing %q", err, want)
	}
	if err := s.Set("anthropic", "sk-x"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Set: %v, want an error containing %q", err, want)
	}
	if err := s.Delete("anthropic"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Delete: %v, want an error containing %q", err, want)
	}
}

func TestEnvVar(t *testing.T) {
	for name, want := range map[string]string{
		"anthropic":       "CLEARWAY_KEY_ANTHROPIC",
		"my-key.v2":       "CLEARWAY_KEY_MY_KEY_V2",
		"Open_AI":         "CLEARWAY_KEY_OPEN_AI",
		"supermemory":     "CLEARWAY_KEY_SUPERMEMORY",
		ClientTokenName:   "CLEARWAY_TOKEN",
		"_other_reserved": "CLEARWAY_KEY__OTHER_RESERVED",
	} {
		if got := EnvVar(name); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestEnvBackendReadsKeysAndToken(t *testing.T) {
	s := New(Options{
		Getenv: fakeEnv(map[string]string{
			BackendVar:               "env",
			"CLEARWAY_KEY_ANTHROPIC": "sk-ant-123\n",
			"CLEARWAY_KEY_MY_KEY_V2": "v2",
			"CLEARWAY_TOKEN":         "tok-0123456789abcdef0123456789abcdef",
		}),
		Logger: slog.New(slog.DiscardHandler),
	})
	for name, want := range map[string]string{"anthropic": "sk-ant-123", "my-key.v2": "v2", ClientTokenName: "tok-0123456789abcdef0123456789abcdef"} {
		got, err := s.Get(name)
		if err != nil || got != want {
			t.Errorf("Get(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	tok, created, err := ClientToken(s)
	if err != nil || created || tok != "tok-0123456789abcdef0123456789abcdef" {
		t.Errorf("ClientToken = %q, %v, %v; want tok, false, nil", tok, created, err)
	}
}

// TestShortTokenRefused: CLEARWAY_TOKEN=x (and any stored token under 32
// characters) is refused with the way to make one; the token is not quoted.
func TestShortTokenRefused(t *testing.T) {
	env := &envStore{getenv: fakeEnv(map[string]string{"CLEARWAY_TOKEN": "x"})}
	_, _, err := ClientToken(env)
	if !errors.Is(err, ErrWeakToken) || !strings.Contains(err.Error(), "CLEARWAY_TOKEN") || !strings.Contains(err.Error(), "/dev/urandom") {
		t.Errorf("CLEARWAY_TOKEN=x: %v", err)
	}
	var m memBackend
	mem := newKeyringStore(m.backend(), time.Second)
	_ = mem.Set(ClientTokenName, "short-TESTSECRET-31-characters!")
	_, _, err = ClientToken(mem)
	if !errors.Is(err, ErrWeakToken) || !strings.Contains(err.Error(), "clearway token --rotate") || strings.Contains(err.Error(), "TESTSECRET") {
		t.Errorf("31-character token: %v", err)
	}
	tok, err := RotateClientToken(mem)
	if err != nil || len(tok) < MinTokenLength {
		t.Fatalf("rotate: %q %v", tok, err)
	}
	if got, _, err := ClientToken(mem); err != nil || got != tok {
		t.Errorf("after rotate: %v", err)
	}
}

func TestEnvBackendMissingKeySaysWhichVariable(t *testing.T) {
	s := &envStore{getenv: fakeEnv(map[string]string{"CLEARWAY_KEY_OPENAI": "   "})}
	_, err := s.Get("openai")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an unset key: %v, want ErrNotFound", err)
	}
	want := `keychain: get "openai": not found: CLEARWAY_KEYCHAIN=env reads it from CLEARWAY_KEY_OPENAI, which is not set`
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	_, err = s.Get(ClientTokenName)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "CLEARWAY_TOKEN") || !strings.Contains(err.Error(), "/dev/urandom") {
		t.Errorf("Get of an unset token: %v, want ErrNotFound naming CLEARWAY_TOKEN and how to make one", err)
	}
}

func TestEnvBackendIsReadOnly(t *testing.T) {
	s := &envStore{getenv: fakeEnv(nil)}
	err := s.Set("anthropic", "sk-secret-value")
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Set: %v, want ErrReadOnly", err)
	}
	want := `keychain: set "anthropic": CLEARWAY_KEYCHAIN=env is read-only: set CLEARWAY_KEY_ANTHROPIC in clearway's environment instead, or unset CLEARWAY_KEYCHAIN to use the OS keychain`
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if err := s.Delete("anthropic"); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "unset CLEARWAY_KEY_ANTHROPIC") {
		t.Errorf("Delete: %v, want ErrReadOnly telling to unset the variable", err)
	}
	if _, _, err := ClientToken(s); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "set CLEARWAY_TOKEN") {
		t.Errorf("ClientToken without CLEARWAY_TOKEN: %v, want ErrReadOnly telling to set CLEARWAY_TOKEN", err)
	}
	if _, err := RotateClientToken(s); !errors.Is(err, ErrReadOnly) {
		t.Errorf("RotateClientToken: %v, want ErrReadOnly", err)
	}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
		why  string
	}{
		{"anthropic", true, ""},
		{"my-key.v2_B", true, ""},
		{strings.Repeat("a", 64), true, ""},
		{"", false, "empty"},
		{strings.Repeat("a", 65), false, "65 characters long; the limit is 64"},
		{"_client_token", false, "reserved for clearway"},
		{"_x", false, "reserved for clearway"},
		{"a b", false, `contains ' ' at position 2`},
		{"a/b", false, `contains '/' at position 2`},
		{"clé", false, `contains 'é' at position 3`},
		{"a\nb", false, `contains '\n'`},
	} {
		err := ValidName(tc.name)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidName(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ValidName(%q) = %v, want ErrInvalidName saying %q", tc.name, err, tc.why)
		}
	}
}

var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestGenerateTokenIsURLSafeAnd32RandomBytes(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := GenerateToken()
		if err != nil {
			t.Fatal(err)
		}
		if !tokenPattern.MatchString(tok) {
			t.Fatalf("token %q is not 43 URL-safe characters", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != TokenBytes {
			t.Fatalf("token %q decodes to %d bytes (%v), want %d", tok, len(raw), err, TokenBytes)
		}
		if seen[tok] {
			t.Fatalf("token %q generated twice", tok)
		}
		seen[tok] = true
	}
}

// memBackend is an in-memory OS keychain for unit tests of logic.
type memBackend struct {
	mu    sync.Mutex
	items map[string]string
}

func (m *memBackend) backend() backend {
	m.items = map[string]string{}
	return backend{
		get: func(service, user string) (string, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			v, ok := m.items[service+"/"+user]
			if !ok {
				return "", keyring.ErrNotFound
			}
			return v, nil
		},
		set: func(service, user, secret string) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.items[service+"/"+user] = secret
			return nil
		},
		del: func(service, user string) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			if _, ok := m.items[service+"/"+user]; !ok {
				return keyring.ErrNotFound
			}
			delete(m.items, service+"/"+user)
			return nil
		},
	}
}

func TestKeyringStoreRejectsBadInputWithoutCallingTheKeychain(t *testing.T) {
	var calls atomic.Int32
	count := func() { calls.Add(1) }
	s := newKeyringStore(backend{
		get: func(string, string) (string, error) { count(); return "", nil },
		set: func(string, string, string) error { count(); return nil },
		del: func(string, string) error { count(); return nil },
	}, time.Second)
	if err := s.Set("", "x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Set with an empty name: %v, want ErrInvalidName", err)
	}
	if err := s.Set("a b", "x"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Set with a space: %v, want ErrInvalidName", err)
	}
	if _, err := s.Get(strings.Repeat("k", 65)); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Get with a long name: %v, want ErrInvalidName", err)
	}
	if err := s.Delete("a/b"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Delete with a slash: %v, want ErrInvalidName", err)
	}
	if err := s.Set("anthropic", ""); err == nil || !strings.Contains(err.Error(), "the secret is empty") {
		t.Errorf("Set with an empty secret: %v, want an error saying the secret is empty", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the keychain was called %d times for bad input", n)
	}
}

func TestClientTokenCreatesOnceAndRotates(t *testing.T) {
	var m memBackend
	s := newKeyringStore(m.backend(), time.Second)
	tok, created, err := ClientToken(s)
	if err != nil || !created || !tokenPattern.MatchString(tok) {
		t.Fatalf("first ClientToken = %q, %v, %v", tok, created, err)
	}
	again, created, err := ClientToken(s)
	if err != nil || created || again != tok {
		t.Fatalf("second ClientToken = %q, %v, %v; want %q, false", again, created, err, tok)
	}
	rotated, err := RotateClientToken(s)
	if err != nil || rotated == tok || !tokenPattern.MatchString(rotated) {
		t.Fatalf("RotateClientToken = %q, %v", rotated, err)
	}
	if got, _, _ := ClientToken(s); got != rotated {
		t.Fatalf("ClientToken after rotation = %q, want %q", got, rotated)
	}
}

func TestClientTokenReportsKeychainFailures(t *testing.T) {
	boom := errors.New("boom")
	s := newKeyringStore(backend{get: func(string, string) (string, error) { return "", boom }}, time.Second)
	if _, _, err := ClientToken(s); !errors.Is(err, boom) {
		t.Fatalf("ClientToken: %v, want the keychain's error, not a new token", err)
	}
}

// blockingBackend never answers until released. It counts the calls that
// reached it and signals each arrival on arrived, if not nil.
func blockingBackend(release <-chan struct{}, calls *atomic.Int32, arrived chan<- struct{}) backend {
	block := func() {
		calls.Add(1)
		if arrived != nil {
			arrived <- struct{}{}
		}
		<-release
	}
	return backend{
		get: func(string, string) (string, error) { block(); return "late", nil },
		set: func(string, string, string) error { block(); return nil },
		del: func(string, string) error { block(); return nil },
	}
}

func TestTimeoutReturnsErrTimeoutInsteadOfHanging(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	release := make(chan struct{})
	var calls atomic.Int32
	s := newKeyringStore(blockingBackend(release, &calls, nil), 50*time.Millisecond)
	defer close(release) // lets the lingering goroutines finish before goleak checks

	_, err := s.Get("anthropic")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get from a hanging keychain: %v, want ErrTimeout", err)
	}
	want := `keychain: get "anthropic": the keychain did not answer within 50ms: check that the Secret Service (gnome-keyring or KeePassXC) is running and not waiting for a password prompt, or set CLEARWAY_KEYCHAIN=env`
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if err := s.Set("anthropic", "sk-do-not-print"); !errors.Is(err, ErrTimeout) || strings.Contains(err.Error(), "sk-do-not-print") {
		t.Errorf("Set: %v, want ErrTimeout without the secret", err)
	}
	if err := s.Delete("anthropic"); !errors.Is(err, ErrTimeout) {
		t.Errorf("Delete: %v, want ErrTimeout", err)
	}
}

func TestHungCallsAreBounded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	release := make(chan struct{})
	var calls atomic.Int32
	arrived := make(chan struct{}, maxHungCalls+3)
	s := newKeyringStore(blockingBackend(release, &calls, arrived), 20*time.Millisecond)
	defer close(release)

	for i := range maxHungCalls + 3 {
		if _, err := s.Get("k"); !errors.Is(err, ErrTimeout) {
			t.Fatalf("call %d: %v, want ErrTimeout", i, err)
		}
	}
	// The first maxHungCalls calls took a slot each and their goroutines
	// reach the backend; the last calls found no free slot and started none.
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for i := range maxHungCalls {
		select {
		case <-arrived:
		case <-timeout.C:
			t.Fatalf("only %d of %d hung calls reached the keychain", i, maxHungCalls)
		}
	}
	if n := calls.Load(); n != maxHungCalls {
		t.Fatalf("%d goroutines reached the hanging keychain, want at most %d", n, maxHungCalls)
	}
}

func TestPanicInTheKeychainLibraryBecomesAnError(t *testing.T) {
	s := newKeyringStore(backend{get: func(string, string) (string, error) {
		var v any = "not a bool"
		_ = v.(bool) // what go-keyring does with an unexpected prompt reply
		return "", nil
	}}, time.Second)
	_, err := s.Get("anthropic")
	if err == nil || !strings.Contains(err.Error(), "unexpected answer from the keychain") {
		t.Fatalf("Get: %v, want an error about an unexpected answer", err)
	}
}

func TestClassifyIgnoresDBusShapesOnMacOSAndWindows(t *testing.T) {
	if got := classify(&exec.Error{Name: "security", Err: exec.ErrNotFound}, false); got != nil {
		t.Errorf("classify(exec error, no Secret Service) = %v, want nil", got)
	}
	if got := classify(keyring.ErrNotFound, false); got != ErrNotFound {
		t.Errorf("classify(not found, no Secret Service) = %v, want ErrNotFound", got)
	}
}

func TestClassifyKnownFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		kind   error
		advice string
	}{
		{"not found", keyring.ErrNotFound, ErrNotFound, `keychain: get "k": not found`},
		{"service unknown", dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}},
			ErrNoSecretService, "install and start gnome-keyring or KeePassXC's secret service, or set CLEARWAY_KEYCHAIN=env"},
		{"no reply", &dbus.Error{Name: "org.freedesktop.DBus.Error.NoReply"}, ErrNoSecretService, "no Secret Service"},
		{"activation failed", dbus.Error{Name: "org.freedesktop.DBus.Error.Spawn.ChildExited"}, ErrNoSecretService, "no Secret Service"},
		{"is locked", dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}, ErrLocked, "unlock it"},
		{"unlock failed", fmt.Errorf("failed to unlock correct collection '%v'", "/org/freedesktop/secrets/aliases/default"), ErrLocked, "the keyring is locked"},
		{"no dbus-launch", &exec.Error{Name: "dbus-launch", Err: exec.ErrNotFound}, ErrNoBus, "no D-Bus session bus"},
		{"dead socket", &net.OpError{Op: "dial", Net: "unix", Err: errors.New("connect: connection refused")}, ErrNoBus, "DBUS_SESSION_BUS_ADDRESS"},
		{"bus closed", dbus.ErrClosed, ErrNoBus, "no D-Bus session bus"},
		{"no address", errors.New("dbus: couldn't determine address of session bus"), ErrNoBus, "no D-Bus session bus"},
		{"other D-Bus error", dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied", Body: []any{"denied"}}, nil, "denied"},
		{"unknown", errors.New("something else"), nil, `keychain: get "k": something else`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !secretServiceOS && tc.kind != ErrNotFound && tc.kind != nil {
				t.Skipf("D-Bus failures are not classified on %s", runtime.GOOS)
			}
			err := keyringError("get", "k", tc.err)
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("%v is not %v", err, tc.kind)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tc.kind {
				t.Errorf("kind of %v = %v, want %v", tc.err, e.Kind, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.advice) {
				t.Errorf("message %q lacks %q", err, tc.advice)
			}
			if tc.kind != ErrNotFound && !reflect.DeepEqual(e.Err, tc.err) {
				t.Errorf("%v does not wrap its cause %v", err, tc.err)
			}
		})
	}
}
