package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// fakeStore is a keychain.Store answering from a map, or failing every call
// with err. Unit logic only: the real keychain is tested end to end.
type fakeStore struct {
	backend string
	keys    map[string]string
	err     error
}

func (f fakeStore) Get(name string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if v, ok := f.keys[name]; ok {
		return v, nil
	}
	return "", &keychain.Error{Op: "get", Name: name, Kind: keychain.ErrNotFound}
}
func (f fakeStore) Set(string, string) error { return f.err }
func (f fakeStore) Delete(string) error      { return f.err }
func (f fakeStore) Backend() string          { return f.backend }

func byName(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Name] = r
	}
	return m
}

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("upstreams:\n  a: {url: https://a.example, key: ka}\n  b: {url: https://b.example, key: ka, headers: {x: '${key:kb}'}}\n"), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestKeychainStates(t *testing.T) {
	cfg := testConfig(t)
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name                 string
		store                fakeStore
		keychain, ka, kb, tk Status
		fix                  string
	}{
		{"ok", fakeStore{backend: keychain.BackendKeyring, keys: map[string]string{"ka": "x"}}, OK, OK, Warn, OK, "clearway keys set kb"},
		{"locked", fakeStore{backend: keychain.BackendKeyring, err: &keychain.Error{Kind: keychain.ErrLocked}}, Fail, Fail, Fail, Fail, "unlock"},
		{"no bus", fakeStore{backend: keychain.BackendKeyring, err: &keychain.Error{Kind: keychain.ErrNoBus}}, Warn, Warn, Warn, OK, "CLEARWAY_KEY_KB"},
		{"env", fakeStore{backend: keychain.BackendEnv, keys: map[string]string{"kb": "x"}}, OK, Warn, OK, OK, "CLEARWAY_KEY_KA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := byName(checkKeychain(context.Background(), &Options{Config: cfg, Keys: tc.store, TokenFile: filepath.Join(t.TempDir(), "tok"), Getenv: noEnv}))
			got := []Status{rs["keychain"].Status, rs["key:ka"].Status, rs["key:kb"].Status, rs["client-token"].Status}
			want := []Status{tc.keychain, tc.ka, tc.kb, tc.tk}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("statuses keychain, ka, kb, token = %v, want %v\n%+v", got, want, rs)
					break
				}
			}
			all := rs["keychain"].Fix + rs["key:ka"].Fix + rs["key:kb"].Fix
			if !strings.Contains(all, tc.fix) {
				t.Errorf("fixes %q do not say %q", all, tc.fix)
			}
			if rs["key:ka"].Status == OK && !strings.Contains(rs["key:ka"].Detail, "used by a, b") {
				t.Errorf("key:ka detail %q does not name both users", rs["key:ka"].Detail)
			}
		})
	}
}

func TestTokenFileModeChecked(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "client_token")
	if err := os.WriteFile(tok, []byte("t"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := checkToken(&Options{Keys: fakeStore{backend: keychain.BackendKeyring}, TokenFile: tok}, errors.New("x"), false, true)
	if r.Status != Fail || !strings.Contains(r.Detail, "0644") || !strings.Contains(r.Fix, "chmod 600") {
		t.Errorf("token file 0644: %+v", r)
	}
	_ = os.Chmod(tok, 0o600)
	r = checkToken(&Options{Keys: fakeStore{backend: keychain.BackendKeyring}, TokenFile: tok}, errors.New("x"), false, true)
	if r.Status != OK || !strings.Contains(r.Detail, tok) {
		t.Errorf("token file 0600: %+v", r)
	}
}

func TestFolderCheck(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode   os.FileMode
		status Status
	}{{0o700, OK}, {0o755, Warn}, {0o750, Warn}, {0o770, Fail}, {0o777, Fail}} {
		p := filepath.Join(dir, tc.mode.String())
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		if r := FolderCheck(p); r.Status != tc.status || (tc.status != OK && r.Fix != "chmod 700 "+p) {
			t.Errorf("mode %04o: %+v, want %s", tc.mode, r, tc.status)
		}
	}
	if r := FolderCheck(filepath.Join(dir, "missing")); r.Status != OK || !strings.Contains(r.Detail, "not created yet") {
		t.Errorf("missing folder: %+v", r)
	}
	f := filepath.Join(dir, "file")
	_ = os.WriteFile(f, nil, 0o600)
	if r := FolderCheck(f); r.Status != Fail {
		t.Errorf("a file: %+v", r)
	}
}

func TestUsageDatabase(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "usage.db")
	o := &Options{UsagePath: p}
	if r := checkUsage(context.Background(), o)[0]; r.Status != OK {
		t.Errorf("missing: %+v", r)
	}
	_ = os.WriteFile(p, []byte("not a database at all"), 0o600)
	if r := checkUsage(context.Background(), o)[0]; r.Status != Fail || !strings.Contains(r.Detail, "not an SQLite database") {
		t.Errorf("garbage: %+v", r)
	}
	_ = os.WriteFile(p, append([]byte("SQLite format 3\x00"), make([]byte, 4096)...), 0o600)
	if r := checkUsage(context.Background(), o)[0]; r.Status != OK || !strings.Contains(r.Detail, "SQLite, 4 KiB") {
		t.Errorf("sqlite: %+v", r)
	}
}

func TestProxyEnv(t *testing.T) {
	cfg := testConfig(t)
	env := map[string]string{
		"HTTPS_PROXY":   "http://user:PROXYPASSWORD@proxy.example:3128",
		"NO_PROXY":      "b.example",
		"SSL_CERT_FILE": filepath.Join(t.TempDir(), "missing.pem"),
	}
	proxy, _ := url.Parse(env["HTTPS_PROXY"])
	o := &Options{Config: cfg, Getenv: func(k string) string { return env[k] }, Proxy: func(u *url.URL) (*url.URL, error) {
		if u.Hostname() == "b.example" {
			return nil, nil
		}
		return proxy, nil
	}}
	r := checkProxyEnv(context.Background(), o)[0]
	if strings.Contains(r.Detail, "PROXYPASSWORD") {
		t.Errorf("the proxy password is shown: %s", r.Detail)
	}
	if r.Status != Fail || !strings.Contains(r.Detail, "through the proxy: a;") && !strings.HasSuffix(r.Detail, "through the proxy: a") ||
		!strings.Contains(r.Detail, "SSL_CERT_FILE") || !strings.Contains(r.Fix, "SSL_CERT_FILE") {
		t.Errorf("proxy env: %+v", r)
	}
	if r := checkProxyEnv(context.Background(), &Options{Config: cfg, Getenv: func(string) string { return "" }})[0]; r.Status != OK || !strings.Contains(r.Detail, "directly") {
		t.Errorf("no variables: %+v", r)
	}
}

func TestOutput(t *testing.T) {
	rs := []Result{
		{Name: "config", Status: OK, Detail: "fine"},
		{Name: "port", Status: Fail, Detail: "held by pid 1", Fix: "stop it"},
		{Name: "tray-host", Status: Warn, Detail: "none", Fix: "install one"},
	}
	var b bytes.Buffer
	if err := WriteText(&b, rs); err != nil {
		t.Fatal(err)
	}
	want := "✓ config     fine\n✗ port       held by pid 1\n             fix: stop it\n! tray-host  none\n             fix: install one\n1 ok, 1 warning, 1 failed\n"
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteJSON(&b, rs); err != nil {
		t.Fatal(err)
	}
	var back []map[string]string
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back) != 3 || back[1]["status"] != "fail" || back[1]["fix"] != "stop it" || back[0]["name"] != "config" {
		t.Errorf("json %s (%v)", b.String(), err)
	}
	if got := Problems(rs); len(got) != 2 || got[0] != "✗ port: held by pid 1" || got[1] != "! tray-host: none" {
		t.Errorf("Problems = %q, failures first", got)
	}
	if Failed(rs) != 1 {
		t.Errorf("Failed = %d", Failed(rs))
	}
}

func TestRunWithABrokenConfigStillChecksTheRest(t *testing.T) {
	dir := t.TempDir()
	rs := byName(Run(context.Background(), Options{
		ConfigErr: errors.New("config x.yaml: listen: \"nope\" is not host:port\nmore"), ConfigPath: "x.yaml",
		DataDir: filepath.Join(dir, "data"), Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Unix(0, 0) },
	}))
	if r := rs["config"]; r.Status != Fail || strings.Contains(r.Detail, "more") || !strings.Contains(r.Fix, "x.yaml") {
		t.Errorf("config: %+v", r)
	}
	if r := rs["port"]; r.Status != Warn {
		t.Errorf("port: %+v", r)
	}
	if r := rs["folder:data"]; r.Status != OK {
		t.Errorf("folder:data: %+v", r)
	}
}
