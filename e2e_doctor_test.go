//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/tray/traytest"
)

// doctorCheck is one object of `clearway doctor --json`.
type doctorCheck struct {
	Name, Status, Detail, Fix string
}

// doctorJSON runs `clearway doctor --json` and returns its checks by name and
// its exit code.
func doctorJSON(t *testing.T, sb *sandbox) (map[string]doctorCheck, int) {
	t.Helper()
	out, errOut, code := sb.run("", "doctor", "--json")
	var list []doctorCheck
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("doctor --json printed no JSON array (%v):\n%s\nstderr: %s", err, out, errOut)
	}
	byName := map[string]doctorCheck{}
	for _, c := range list {
		if c.Name == "" || c.Detail == "" {
			t.Errorf("check without name or detail: %+v", c)
		}
		switch c.Status {
		case "ok":
		case "warn", "fail":
			if c.Fix == "" {
				t.Errorf("%s is %s but says no fix: %+v", c.Name, c.Status, c)
			}
		default:
			t.Errorf("%s: status %q is not ok, warn or fail", c.Name, c.Status)
		}
		byName[c.Name] = c
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("doctor --json (exit %d):\n%s\nstderr: %s", code, out, errOut)
		}
	})
	return byName, code
}

// wantCheck asserts one check's status and that its detail and fix contain
// the given words.
func wantCheck(t *testing.T, checks map[string]doctorCheck, name, status, inDetail, inFix string) {
	t.Helper()
	c, ok := checks[name]
	if !ok {
		t.Errorf("no %q check", name)
		return
	}
	if c.Status != status {
		t.Errorf("%s: status %q, want %q (%s | fix: %s)", name, c.Status, status, c.Detail, c.Fix)
	}
	if !strings.Contains(c.Detail, inDetail) {
		t.Errorf("%s: detail %q does not say %q", name, c.Detail, inDetail)
	}
	if !strings.Contains(c.Fix, inFix) {
		t.Errorf("%s: fix %q does not say %q", name, c.Fix, inFix)
	}
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// doctorUpstream is a local TLS upstream the sandbox trusts.
func doctorUpstream(t *testing.T, sb *sandbox) *httptest.Server {
	t.Helper()
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)
	sb.trust(up)
	return up
}

const doctorYAML = `listen: %s
upstreams:
  local:
    url: %s
    key: doctor-key
`

// TestDoctorHealthyDesktop: on a private desktop session (bus, gnome-keyring
// holding the key, a notification server, a tray host) every check is ok
// and doctor exits 0.
func TestDoctorHealthyDesktop(t *testing.T) {
	bus := desktoptest.StartBus(t)
	kr := desktoptest.StartKeyring(t, bus)
	traytest.StartHost(t, bus.Conn(t))
	desktoptest.StartNotificationRecorder(t, bus)
	kr.Store(t, "clearway", "doctor-key", "sk-DOCTORSECRET")

	sb := newSandbox(t)
	sb.useDesktop(bus, kr)
	up := doctorUpstream(t, sb)
	sb.writeConfig(fmt.Sprintf(doctorYAML, freeAddr(t), up.URL))

	checks, code := doctorJSON(t, sb)
	if code != 0 {
		t.Errorf("exit code %d on a healthy desktop, want 0", code)
	}
	for _, c := range checks {
		if c.Status != "ok" {
			t.Errorf("%s is %s on a healthy desktop: %s (fix: %s)", c.Name, c.Status, c.Detail, c.Fix)
		}
	}
	wantCheck(t, checks, "config", "ok", sb.config+" is valid", "")
	wantCheck(t, checks, "port", "ok", "is free", "")
	wantCheck(t, checks, "session-bus", "ok", "connected", "")
	wantCheck(t, checks, "tray-host", "ok", "org.kde.StatusNotifierWatcher", "")
	wantCheck(t, checks, "notifications", "ok", "org.freedesktop.Notifications", "")
	wantCheck(t, checks, "keychain", "ok", "reachable and unlocked", "")
	wantCheck(t, checks, "key:doctor-key", "ok", "set (used by local)", "")
	wantCheck(t, checks, "upstream:local", "ok", "certificate issued by", "")
	wantCheck(t, checks, "proxy-env", "ok", "SSL_CERT_FILE=", "")
	text, _, _ := sb.run("", "doctor")
	t.Logf("clearway doctor on a private desktop session:\n%s", text)
	if strings.Contains(text, "DOCTORSECRET") {
		t.Errorf("doctor printed a key:\n%s", text)
	}
	if !strings.Contains(text, "✓ keychain") {
		t.Errorf("text output has no ✓ keychain line:\n%s", text)
	}
}

// TestDoctorLockedKeyring: a locked keyring fails with the unlock fix.
func TestDoctorLockedKeyring(t *testing.T) {
	bus := desktoptest.StartBus(t)
	kr := desktoptest.StartKeyring(t, bus)
	kr.Store(t, "clearway", "doctor-key", "sk-DOCTORSECRET")
	kr.Lock(t)

	sb := newSandbox(t)
	sb.useDesktop(bus, kr)
	up := doctorUpstream(t, sb)
	sb.writeConfig(fmt.Sprintf(doctorYAML, freeAddr(t), up.URL))

	checks, code := doctorJSON(t, sb)
	if code != 1 {
		t.Errorf("exit code %d with a locked keyring, want 1", code)
	}
	wantCheck(t, checks, "keychain", "fail", "locked", "unlock the login keyring")
	wantCheck(t, checks, "key:doctor-key", "fail", "cannot tell", "unlock")
	wantCheck(t, checks, "tray-host", "warn", "no tray host", "panel")
	wantCheck(t, checks, "notifications", "warn", "no notification server", "notification daemon")
}

// noBusSandbox is a sandbox with no session bus and no keychain at all.
func noBusSandbox(t *testing.T) *sandbox {
	sb := newSandbox(t)
	sb.env["CLEARWAY_KEYCHAIN"] = ""
	sb.env["DBUS_SESSION_BUS_ADDRESS"] = ""
	sb.env["XDG_RUNTIME_DIR"] = ""
	return sb
}

// TestDoctorWithoutABus: no session bus is a set of warnings (clearway runs
// headless, the token goes to a file), not a failure: exit 0.
func TestDoctorWithoutABus(t *testing.T) {
	sb := noBusSandbox(t)
	up := doctorUpstream(t, sb)
	sb.writeConfig(fmt.Sprintf(doctorYAML, freeAddr(t), up.URL))

	checks, code := doctorJSON(t, sb)
	if code != 0 {
		t.Errorf("exit code %d without a bus, want 0 (nothing fails)", code)
	}
	wantCheck(t, checks, "session-bus", "warn", "no D-Bus session bus", "desktop session")
	wantCheck(t, checks, "tray-host", "warn", "headless", "clearway serve")
	wantCheck(t, checks, "notifications", "warn", "no desktop notifications", "")
	wantCheck(t, checks, "keychain", "warn", "not reachable", "CLEARWAY_KEYCHAIN=env")
	wantCheck(t, checks, "client-token", "ok", filepath.Join(sb.env["XDG_STATE_HOME"], "clearway", "client_token"), "")
	wantCheck(t, checks, "key:doctor-key", "warn", "cannot tell", "CLEARWAY_KEY_DOCTOR_KEY")
	wantCheck(t, checks, "upstream:local", "ok", "reachable", "")
}

// TestDoctorPortHeldByAnotherProgram: the port check names the holder's pid.
func TestDoctorPortHeldByAnotherProgram(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sb := noBusSandbox(t)
	up := doctorUpstream(t, sb)
	sb.writeConfig(fmt.Sprintf(doctorYAML, ln.Addr(), up.URL))

	checks, code := doctorJSON(t, sb)
	if code != 1 {
		t.Errorf("exit code %d with the port taken, want 1", code)
	}
	wantCheck(t, checks, "port", "fail", fmt.Sprintf("in use by another program: pid %d", os.Getpid()), "--listen")
}

// TestDoctorGroupWritableDataFolder: clearway refuses such a folder; doctor
// fails it and says chmod 700.
func TestDoctorGroupWritableDataFolder(t *testing.T) {
	sb := noBusSandbox(t)
	up := doctorUpstream(t, sb)
	sb.writeConfig(fmt.Sprintf(doctorYAML, freeAddr(t), up.URL))
	if err := os.MkdirAll(sb.dataDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sb.dataDir(), 0o770); err != nil {
		t.Fatal(err)
	}

	checks, code := doctorJSON(t, sb)
	if code != 1 {
		t.Errorf("exit code %d with a group-writable data folder, want 1", code)
	}
	wantCheck(t, checks, "folder:data", "fail", "mode 0770", "chmod 700 "+sb.dataDir())
	wantCheck(t, checks, "folder:config", "ok", "mode 0700", "")
}

// TestDoctorUnreachableUpstream: a refused connection fails the upstream's
// check within its bound.
func TestDoctorUnreachableUpstream(t *testing.T) {
	sb := noBusSandbox(t)
	sb.writeConfig(fmt.Sprintf(doctorYAML, freeAddr(t), "https://"+freeAddr(t)))

	checks, code := doctorJSON(t, sb)
	if code != 1 {
		t.Errorf("exit code %d with an unreachable upstream, want 1", code)
	}
	wantCheck(t, checks, "upstream:local", "fail", "connection refused", "check the network")
}
