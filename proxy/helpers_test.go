package proxy

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/events"
)

// recordingClock makes retry and throttle waits instant and records them, so
// tests check the chosen delays without sleeping.
type recordingClock struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (c *recordingClock) Now() time.Time { return time.Now() }

func (c *recordingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *recordingClock) waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// mapKeys is an in-memory KeySource for unit tests of the injection logic
// (the real keychain is exercised by the end-to-end tests in package main).
type mapKeys struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *mapKeys) Get(name string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.m[name]; ok {
		return v, nil
	}
	return "", ErrKeyNotFound
}

// testProxy is a running Server on a loopback port.
type testProxy struct {
	srv   *Server
	base  string // http://127.0.0.1:port
	clock *recordingClock
	bus   *events.Bus
	done  chan error
	stop  context.CancelFunc
}

type proxyOpt func(*Options)

// startProxy runs a Server for the YAML config (with %UPSTREAM% replaced by
// upstream's URL) and stops it when the test ends.
func startProxy(t testing.TB, yaml string, upstream *httptest.Server, opts ...proxyOpt) *testProxy {
	t.Helper()
	if upstream != nil {
		yaml = strings.ReplaceAll(yaml, "%UPSTREAM%", upstream.URL)
	}
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clock := &recordingClock{}
	bus := &events.Bus{}
	o := Options{Config: cfg, Listener: ln, Clock: clock, Bus: bus, Logger: slog.New(slog.NewTextHandler(testOutput, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "test"}
	if upstream != nil && upstream.TLS != nil {
		pool := x509.NewCertPool()
		pool.AddCert(upstream.Certificate())
		o.RootCAs = pool
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{srv: srv, base: "http://" + ln.Addr().String(), clock: clock, bus: bus, done: make(chan error, 1), stop: cancel}
	go func() { tp.done <- srv.Run(ctx) }()
	<-srv.Ready()
	t.Cleanup(func() {
		testOutput.note("status", srv.Status()) // for the secrets sweep (main_test.go)
		cancel()
		select {
		case <-tp.done:
		case <-time.After(30 * time.Second):
			t.Error("proxy did not stop within 30s")
		}
	})
	return tp
}

// get sends a request through the proxy with a fresh client (no cookie jar:
// the proxy's session must be the one that keeps cookies).
func (tp *testProxy) do(t testing.TB, method, path string, body io.Reader, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, tp.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vv := range header {
		req.Header[k] = vv
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// proxyError decodes clearway's own JSON error.
func proxyError(t testing.TB, body string) anthropicError {
	t.Helper()
	var e anthropicError
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Type != "error" {
		t.Fatalf("not a clearway error body: %q (%v)", body, err)
	}
	if !strings.HasPrefix(e.Error.Message, "clearway: ") {
		t.Errorf("message %q lacks the clearway: prefix", e.Error.Message)
	}
	return e
}

// openAIProxyError decodes clearway's own JSON error in OpenAI's shape.
func openAIProxyError(t testing.TB, body string) openAIDetail {
	t.Helper()
	var e struct {
		Error *openAIDetail `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Type == "" || e.Error.Code == "" {
		t.Fatalf("not a clearway OpenAI error body: %q (%v)", body, err)
	}
	if !strings.HasPrefix(e.Error.Message, "clearway: ") {
		t.Errorf("message %q lacks the clearway: prefix", e.Error.Message)
	}
	return *e.Error
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
