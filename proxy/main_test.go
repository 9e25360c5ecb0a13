package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// secretMarker is part of every key, token and cookie value the reliability
// tests make up, so the sweep can find any of them in captured output.
const secretMarker = "TESTSECRET"

// knownTestSecrets are secret values older tests in this package use without
// the marker; the sweep looks for them too.
var knownTestSecrets = []string{"sk-ant-REAL", "sm-REAL", "sk-oa-REAL", "local-token-123", "tok-abc"}

// captured collects everything the proxies started by this package's tests
// wrote to their logger, and their status output at the end of each test. The
// sweep in TestMain reads it after every test has run.
type captured struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	writes  int
	secrets map[string]bool
}

// testOutput is the package-wide sink startProxy logs into.
var testOutput = &captured{secrets: map[string]bool{}}

func (c *captured) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

// note records a non-log output (status JSON, an error body) for the sweep.
func (c *captured) note(what string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprint(v))
	}
	_, _ = fmt.Fprintf(c, "%s: %s\n", what, b)
}

// secret registers a secret value a test used, for the sweep.
func (c *captured) secret(v string) string {
	c.mu.Lock()
	c.secrets[v] = true
	c.mu.Unlock()
	return v
}

// TestMain runs the package's tests and then the secrets sweep: no API key,
// client token or cookie value a test used may appear in any log line or
// status output the proxies produced.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && !testing.Short() {
		if msg := sweepSecrets(); msg != "" {
			fmt.Fprintln(os.Stderr, "FAIL: secrets sweep:", msg)
			code = 1
		}
	}
	os.Exit(code)
}

// sweepSecrets returns "" when the captured output holds no secret, or a
// description of what leaked.
func sweepSecrets() string {
	testOutput.mu.Lock()
	defer testOutput.mu.Unlock()
	text := testOutput.buf.String()
	if testOutput.writes == 0 {
		// Only when a proxy ran: a -run filter may have selected pure unit tests.
		return ""
	}
	needles := append([]string{secretMarker}, knownTestSecrets...)
	for s := range testOutput.secrets {
		needles = append(needles, s)
	}
	var leaks []string
	for _, n := range needles {
		if i := strings.Index(text, n); i >= 0 {
			start := max(0, strings.LastIndexByte(text[:i], '\n')+1)
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				end = len(text) - i
			}
			leaks = append(leaks, fmt.Sprintf("%q in %q", n, text[start:i+end]))
		}
	}
	fmt.Fprintf(os.Stderr, "secrets sweep: %d log writes, %d bytes of output, %d secret values checked, %d found\n",
		testOutput.writes, len(text), len(needles), len(leaks))
	return strings.Join(leaks, "; ")
}

// TestSecretsSweepFindsALeak proves the sweep is not blind: a marker written
// to a private sink is reported.
func TestSecretsSweepFindsALeak(t *testing.T) {
	saved := testOutput
	defer func() { testOutput = saved }()
	testOutput = &captured{secrets: map[string]bool{}}
	testOutput.note("status", map[string]string{"key": "sk-" + secretMarker + "-x"})
	if sweepSecrets() == "" {
		t.Fatal("the sweep missed a secret written to the captured output")
	}
	testOutput = &captured{secrets: map[string]bool{}}
	testOutput.secret("cookie-value-123")
	testOutput.note("log", "cookie=cookie-value-123")
	if sweepSecrets() == "" {
		t.Fatal("the sweep missed a registered secret value")
	}
}
