package main

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/proxy/instance"
)

// binPath is the clearway binary the end-to-end tests run, built once.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clearway-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "clearway")
	if runtime.GOOS == "windows" {
		binPath += ".exe"
	}
	build := exec.Command("go", "build", "-race", "-tags", "e2ehooks", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building clearway for the end-to-end tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox is a private HOME with its own XDG folders, so a test's clearway
// touches nothing of the user's.
type sandbox struct {
	t      *testing.T
	home   string
	env    map[string]string
	config string // path of the config file the tests write
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	home := t.TempDir()
	sb := &sandbox{t: t, home: home, env: map[string]string{
		"HOME":              home,
		"XDG_CONFIG_HOME":   filepath.Join(home, ".config"),
		"XDG_DATA_HOME":     filepath.Join(home, ".local", "share"),
		"XDG_STATE_HOME":    filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME":    filepath.Join(home, ".cache"),
		"CLEARWAY_KEYCHAIN": "env",
		"CLEARWAY_CONFIG":   "",
	}}
	sb.config = filepath.Join(sb.env["XDG_CONFIG_HOME"], "clearway", "config.yaml")
	return sb
}

func (sb *sandbox) dataDir() string { return filepath.Join(sb.env["XDG_DATA_HOME"], "clearway") }

func (sb *sandbox) cookieFile() string { return filepath.Join(sb.dataDir(), "cookies.json") }

func (sb *sandbox) logFile() string {
	return filepath.Join(sb.env["XDG_STATE_HOME"], "clearway", "clearway.log")
}

// writeConfig writes the sandbox's config.yaml.
func (sb *sandbox) writeConfig(yaml string) {
	sb.t.Helper()
	if err := os.MkdirAll(filepath.Dir(sb.config), 0o700); err != nil {
		sb.t.Fatal(err)
	}
	if err := os.WriteFile(sb.config, []byte(yaml), 0o600); err != nil {
		sb.t.Fatal(err)
	}
}

// trust makes the sandbox's clearway trust srv's certificate (SSL_CERT_FILE).
func (sb *sandbox) trust(srv *httptest.Server) {
	sb.t.Helper()
	path := filepath.Join(sb.home, "test-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		sb.t.Fatal(err)
	}
	sb.env["SSL_CERT_FILE"] = path
}

func (sb *sandbox) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := sb.env[k]; over || strings.HasPrefix(k, "CLEARWAY_") {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range sb.env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// run runs a clearway command to completion.
func (sb *sandbox) run(stdin string, args ...string) (stdout, stderr string, code int) {
	sb.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = sb.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		sb.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			sb.t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		sb.t.Fatalf("clearway %v did not finish within 60s; stderr: %s", args, e.String())
	}
	return o.String(), e.String(), code
}

// proc is a running `clearway serve`.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start starts clearway with args (none: the tray app), its output (stdout
// and stderr) collected, and kills it when the test ends.
func (sb *sandbox) start(args ...string) *proc {
	sb.t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = sb.environ()
	p := &proc{t: sb.t, cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		sb.t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	sb.t.Cleanup(p.kill)
	return p
}

// serve starts `clearway serve` on a free loopback port and waits until
// /_clearway/health answers.
func (sb *sandbox) serve(extraArgs ...string) *proc {
	sb.t.Helper()
	p := sb.start(append([]string{"serve", "--config", sb.config, "--listen", "127.0.0.1:0"}, extraArgs...)...)
	cmd := p.cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		if info, err := instance.Read(sb.dataDir()); err == nil && info.Addr != "" && info.PID == cmd.Process.Pid {
			p.addr = info.Addr
			if resp, err := http.Get("http://" + p.addr + "/_clearway/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return p
				}
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			sb.t.Fatalf("clearway serve exited early (%v): %s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			sb.t.Fatalf("clearway serve did not become healthy within 30s: %s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// signal sends sig and waits for the process to exit.
func (p *proc) stop(sig syscall.Signal) error {
	p.t.Helper()
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		p.t.Fatalf("clearway did not exit within 30s of %v", sig)
		return nil
	}
}

func (p *proc) kill() {
	if p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(10 * time.Second):
		}
	}
}

// request sends one request through the proxy.
func request(t *testing.T, method, url string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range header {
		req.Header[k] = vv
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}, Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// waitUntil polls cond until it holds or the deadline passes, and returns how long it took.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// useDesktop points the sandbox at the real keychain on a private session
// bus, and at the keyring's runtime folder when kr is given (nil: a bus with
// no keyring started by this test).
func (sb *sandbox) useDesktop(bus *desktoptest.Bus, kr *desktoptest.Keyring) {
	sb.env["CLEARWAY_KEYCHAIN"] = "" // the real keychain
	sb.env["DBUS_SESSION_BUS_ADDRESS"] = bus.Addr
	if kr != nil {
		sb.env["XDG_RUNTIME_DIR"] = kr.RuntimeDir
	}
}
