package realclients

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/instance"
)

// token is the client token the sandboxed clearway requires.
const token = "cw-test-token-0123456789abcdef0123456789"

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// sandbox is one clearway installation: a private HOME and XDG folders, the
// env keychain (CLEARWAY_TOKEN, CLEARWAY_KEY_*), a config file.
type sandbox struct {
	t      *testing.T
	home   string
	env    map[string]string
	config string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	home := t.TempDir()
	sb := &sandbox{t: t, home: home, env: map[string]string{
		"HOME":                   home,
		"XDG_CONFIG_HOME":        filepath.Join(home, ".config"),
		"XDG_DATA_HOME":          filepath.Join(home, ".local", "share"),
		"XDG_STATE_HOME":         filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME":         filepath.Join(home, ".cache"),
		"CLEARWAY_KEYCHAIN":      "env",
		"CLEARWAY_TOKEN":         token,
		"CLEARWAY_KEY_ANTHROPIC": "sk-ant-upstream-key",
		"CLEARWAY_KEY_OPENAI":    "sk-openai-upstream-key",
	}}
	sb.config = filepath.Join(home, "config.yaml")
	return sb
}

// trust makes clearway trust srv's certificate (SSL_CERT_FILE).
func (sb *sandbox) trust(srv *httptest.Server) {
	sb.t.Helper()
	path := filepath.Join(sb.home, "test-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		sb.t.Fatal(err)
	}
	sb.env["SSL_CERT_FILE"] = path
}

// writeConfig writes the config with both upstreams at the given URLs and
// retry settings short enough for a test (2 retries, Retry-After honoured).
func (sb *sandbox) writeConfig(anthropicURL, openaiURL string) {
	sb.t.Helper()
	yaml := "listen: 127.0.0.1:0\nlog_level: debug\ncookie_save_delay: 100ms\nretry: {max_retries: 2, initial_delay: 200ms, max_delay: 2s}\nupstreams:\n" +
		"  anthropic: {url: \"" + anthropicURL + "\", key: anthropic, auth_header: x-api-key}\n" +
		"  openai: {url: \"" + openaiURL + "\", key: openai, auth_header: authorization}\n"
	if err := os.WriteFile(sb.config, []byte(yaml), 0o600); err != nil {
		sb.t.Fatal(err)
	}
}

func (sb *sandbox) environ() []string {
	out := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range sb.env {
		if v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func (sb *sandbox) dataDir() string { return filepath.Join(sb.env["XDG_DATA_HOME"], "clearway") }

// clearway runs a clearway command to completion and returns its output.
func (sb *sandbox) clearway(args ...string) string {
	sb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = sb.environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		sb.t.Fatalf("clearway %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// server is a running `clearway serve`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
	done chan error
}

// syncBuffer is a bytes.Buffer two goroutines may write at once (a
// process's stdout and stderr pipes).
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

// serve starts `clearway serve` on a free loopback port and waits until it
// answers /_clearway/health; it is killed when the test ends.
func (sb *sandbox) serve() *server {
	sb.t.Helper()
	cmd := exec.Command(binPath, "serve", "--config", sb.config, "--listen", "127.0.0.1:0")
	cmd.Env = sb.environ()
	s := &server{t: sb.t, cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		sb.t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	sb.t.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		if sb.t.Failed() {
			sb.t.Logf("clearway's output:\n%s", s.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if info, err := instance.Read(sb.dataDir()); err == nil && info.Addr != "" && info.PID == cmd.Process.Pid {
			if resp, err := http.Get("http://" + info.Addr + "/_clearway/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					s.addr = info.Addr
					return s
				}
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			sb.t.Fatalf("clearway serve exited early (%v): %s", err, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			sb.t.Fatalf("clearway serve did not become healthy within 30s: %s", s.out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling for readiness, with a deadline
	}
}

// stop sends sig and waits for clearway to exit.
func (s *server) stop(sig syscall.Signal) {
	if s.cmd.Process == nil {
		return
	}
	select {
	case err := <-s.done:
		s.done <- err
		return
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("clearway did not exit within 30s of %v", sig)
	}
}

// front stands between the clients and clearway and counts the API requests
// (POSTs) each client makes (its attempts), passing everything through unchanged and
// streaming as it arrives. It is only an observer: clearway still sees the
// clients' own requests.
type front struct {
	srv      *httptest.Server
	attempts atomic.Int64
	mu       sync.Mutex
	statuses []int
	retryHdr []string // x-should-retry of each answer
	paths    []string // method and path of each request
	cwTries  []string // X-Clearway-Attempts of each answer (clearway's upstream attempts)
	errs     []string // what went wrong between the front and clearway (kept for failure reports)
}

// frontLog keeps the reverse proxy's own log lines (a body copy that
// failed) with the front's errors.
type frontLog struct{ f *front }

func (l frontLog) Write(p []byte) (int, error) {
	l.f.mu.Lock()
	l.f.errs = append(l.f.errs, strings.TrimSpace(string(p)))
	l.f.mu.Unlock()
	return len(p), nil
}

func newFront(t *testing.T, clearwayAddr string) *front {
	t.Helper()
	target, _ := url.Parse("http://" + clearwayAddr)
	f := &front{}
	// Its own transport: http.DefaultTransport is shared with every
	// httptest.Server's Close (which closes its idle connections), and would
	// add "Accept-Encoding: gzip" to requests that carry none; the observer
	// must change nothing.
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     tr,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.mu.Lock()
			f.errs = append(f.errs, r.Method+" "+r.URL.Path+": "+err.Error())
			f.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: log.New(frontLog{f}, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			f.mu.Lock()
			f.statuses = append(f.statuses, resp.StatusCode)
			f.retryHdr = append(f.retryHdr, resp.Header.Get("X-Should-Retry"))
			f.cwTries = append(f.cwTries, resp.Header.Get("X-Clearway-Attempts"))
			f.mu.Unlock()
			return nil
		},
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			f.attempts.Add(1) // API calls; Claude Code also probes its base URL with a HEAD
		}
		f.mu.Lock()
		f.paths = append(f.paths, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		// Full duplex, as clearway itself serves: without it the server
		// closes a POST's body when the answer's headers go out, the
		// transport's last read of that body fails and it drops the
		// connection to clearway mid-stream (golang/go#40747; seen once as a
		// cut stream the client then sent again).
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	}))
	f.srv.Config.ErrorLog = quietLog()
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// reset zeroes the counters before a client run.
func (f *front) reset() {
	f.attempts.Store(0)
	f.mu.Lock()
	f.statuses, f.retryHdr, f.paths, f.cwTries = nil, nil, nil, nil
	f.mu.Unlock()
}

// client names the real clients.
type client string

const (
	claudeCode   client = "claude-code"
	anthropicSDK client = "anthropic-sdk"
	openaiSDK    client = "openai-sdk"
	continueCLI  client = "continue-cli" // Continue's CLI (cn): the same config.yaml and model providers as its IDE extensions
)

var allClients = []client{claudeCode, anthropicSDK, openaiSDK, continueCLI}

// continueConfig is the README's Continue setup, for the test's base URL
// and key.
const continueConfig = `name: clearway
version: 1.0.0
schema: v1
models:
  - name: Claude via clearway
    provider: anthropic
    model: claude-sonnet-4-6
    apiBase: %s/anthropic/v1/
    apiKey: %s
`

// result is what one client run showed its user.
type result struct {
	OK    bool          // the client reported success
	Text  string        // the answer's text (success)
	Shown string        // the error the client showed (failure)
	Took  time.Duration // wall time of the client process
	Raw   string        // everything it printed
}

// clientKey chooses how a client sends its key.
type clientKey struct {
	value     string
	authToken bool // Claude Code / Anthropic SDK: ANTHROPIC_AUTH_TOKEN (Bearer) instead of ANTHROPIC_API_KEY
}

// run runs one client once against base (the front's URL), with the
// variables the README tells users to set and the client's default retry
// settings, and returns what it showed. A run is cut after 5 minutes.
func run(t *testing.T, c client, base string, key clientKey) result {
	t.Helper()
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "NO_COLOR=1"}
	var args []string
	var prog string
	anthropicEnv := func() {
		env = append(env, "ANTHROPIC_BASE_URL="+base+"/anthropic")
		if key.authToken {
			env = append(env, "ANTHROPIC_AUTH_TOKEN="+key.value)
		} else {
			env = append(env, "ANTHROPIC_API_KEY="+key.value)
		}
	}
	switch c {
	case claudeCode:
		prog, _ = filepath.Abs(filepath.Join(npmDir, "node_modules", ".bin", "claude"))
		args = []string{"-p", "Say the test sentence.", "--output-format", "json"}
		anthropicEnv()
		env = append(env, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1")
	case anthropicSDK:
		prog, args = "node", []string{filepath.Join(npmDir, "sdk-client.mjs"), "anthropic"}
		anthropicEnv()
	case openaiSDK:
		prog, args = "node", []string{filepath.Join(npmDir, "sdk-client.mjs"), "openai"}
		env = append(env, "OPENAI_BASE_URL="+base+"/openai/v1", "OPENAI_API_KEY="+key.value)
	case continueCLI:
		prog, _ = filepath.Abs(filepath.Join(npmDir, "node_modules", ".bin", "cn"))
		cfg := filepath.Join(home, "continue.yaml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(continueConfig, base, key.value)), 0o600); err != nil {
			t.Fatal(err)
		}
		args = []string{"-p", "Say the test sentence.", "--config", cfg}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	if c == claudeCode || c == continueCLI {
		cmd.Dir = home // its working folder is its project: an empty one
	}
	// Two pipes (stdout alone for cn's answer text) write to out at once.
	var out syncBuffer
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&out, &stdout), &out
	start := time.Now()
	err := cmd.Run()
	res := result{Took: time.Since(start), Raw: out.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within 5 minutes: %s", c, res.Raw)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", c, err)
	}
	line := lastJSONLine(stdout.String()) // every client prints its JSON on stdout; stderr has warnings
	switch c {
	case continueCLI:
		// cn -p prints the answer's text on stdout on success, and
		// {"status":"error","message":...} on stderr with exit status 1 on
		// failure.
		var r struct{ Status, Message string }
		if err == nil {
			res.OK, res.Text = true, strings.TrimSpace(stdout.String())
		} else if json.Unmarshal([]byte(lastJSONLine(res.Raw)), &r) == nil && r.Status == "error" {
			res.Shown = r.Message
		} else {
			res.Shown = strings.TrimSpace(res.Raw)
		}
	case claudeCode:
		var r struct {
			Type    string `json:"type"`
			IsError bool   `json:"is_error"`
			Result  string `json:"result"`
		}
		if json.Unmarshal([]byte(line), &r) != nil || r.Type != "result" {
			res.Shown = strings.TrimSpace(res.Raw)
			return res
		}
		if r.IsError {
			res.Shown = r.Result
		} else {
			res.OK, res.Text = true, r.Result
		}
	default:
		var r struct {
			OK      bool   `json:"ok"`
			Text    string `json:"text"`
			Name    string `json:"name"`
			Status  int    `json:"status"`
			Message string `json:"message"`
			Cause   string `json:"cause"`
		}
		if json.Unmarshal([]byte(line), &r) != nil {
			res.Shown = strings.TrimSpace(res.Raw)
			return res
		}
		res.OK, res.Text = r.OK, r.Text
		if !r.OK {
			res.Shown = r.Name + ": " + r.Message
			if r.Cause != "" {
				res.Shown += " (cause: " + r.Cause + ")"
			}
		}
	}
	return res
}

// lastJSONLine returns the last line of out that looks like a JSON object.
func lastJSONLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "{") {
			return l
		}
	}
	return ""
}
