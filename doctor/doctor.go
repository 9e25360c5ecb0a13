// Package doctor checks what clearway needs on this machine and says, for each
// thing, whether it is fine and what to do when it is not: the config, the
// listen port, the desktop session (bus, tray host, notification server), the
// keychain and every configured key, the folders' modes, the cookie jar, the
// usage database, the proxy environment and each upstream's DNS, TCP and TLS.
//
// Run does the checks; WriteText and WriteJSON print them. The checks only
// read: they never create a folder, start a service, prompt for a password or
// print a secret.
package doctor

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// Status is how a check came out. The zero value is not a valid status.
type Status string

// The statuses a check can have.
const (
	OK   Status = "ok"   // nothing to do
	Warn Status = "warn" // works, but something is missing or could be better
	Fail Status = "fail" // clearway cannot do part of its job until this is fixed
)

// Symbol is the mark WriteText shows: ✓, ! or ✗.
func (s Status) Symbol() string {
	switch s {
	case OK:
		return "✓"
	case Warn:
		return "!"
	default:
		return "✗"
	}
}

// Result is one check's outcome. It never holds a secret. The zero value is
// not a valid result.
type Result struct {
	Name   string `json:"name"`   // e.g. "config", "port", "key:anthropic", "upstream:openai"
	Status Status `json:"status"` // ok, warn or fail
	Detail string `json:"detail"` // what was found, one line
	Fix    string `json:"fix"`    // what to do, one line; "" when Status is OK
}

// DefaultTimeout bounds each network check (an upstream's DNS + TCP + TLS,
// a D-Bus call) when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options are what the checks look at. Main fills them from the same places
// the running application uses. The zero value checks little: set at least
// Config or ConfigErr, and the paths.
type Options struct {
	// Config is the loaded configuration; nil when it did not load (then
	// ConfigErr says why and the checks that need it are skipped).
	Config *config.Config
	// ConfigErr is the error loading the config gave, if any.
	ConfigErr error
	// ConfigPath is the file looked at (config.Path() or --config).
	ConfigPath string

	// Keys is the key store the application would use; nil skips the
	// keychain and key checks.
	Keys keychain.Store
	// TokenFile is where the client token is kept when no keychain is
	// reachable ("" when there is no such fallback).
	TokenFile string

	// DataDir, StateDir and ConfigDir are clearway's folders (cookie jars
	// and the instance lock; logs; config). "" skips a folder.
	DataDir, StateDir, ConfigDir string
	// CookiesPath is the cookie-jar file; UsagePath the usage database.
	CookiesPath, UsagePath string

	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock for expiries; nil means time.Now.
	Now func() time.Time
	// Timeout bounds each network check; zero means DefaultTimeout.
	Timeout time.Duration
	// Roots verifies upstream certificates; nil means the system roots
	// (which honour SSL_CERT_FILE and SSL_CERT_DIR), as the proxy does.
	Roots *x509.CertPool
	// Proxy picks the HTTP proxy for an upstream URL; nil means
	// http.ProxyFromEnvironment, as the proxy's sessions use.
	Proxy func(*url.URL) (*url.URL, error)
}

func (o *Options) getenv(k string) string {
	if o.Getenv == nil {
		return os.Getenv(k)
	}
	return o.Getenv(k)
}

func (o *Options) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

func (o *Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// Run does every check and returns the results in a fixed order. Slow checks
// (the keychain, the upstreams) run at the same time; each network check is
// bounded by Options.Timeout, and ctx ends them all early. Safe to call from
// several goroutines with distinct Options.
func Run(ctx context.Context, opts Options) []Result {
	type group func(context.Context, *Options) []Result
	groups := []group{
		checkConfig,
		checkPort,
		checkDesktop,
		checkKeychain,
		checkFolders,
		checkCookies,
		checkUsage,
		checkProxyEnv,
		checkUpstreams,
		checkShared,
	}
	out := make([][]Result, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Go(func() { out[i] = g(ctx, &opts) })
	}
	wg.Wait()
	var all []Result
	for _, rs := range out {
		all = append(all, rs...)
	}
	return all
}

// Failed counts the results whose status is Fail.
func Failed(rs []Result) int {
	n := 0
	for _, r := range rs {
		if r.Status == Fail {
			n++
		}
	}
	return n
}

// Summary is one line counting the results, e.g. "12 ok, 2 warnings, 1 failed".
func Summary(rs []Result) string {
	var ok, warn, fail int
	for _, r := range rs {
		switch r.Status {
		case OK:
			ok++
		case Warn:
			warn++
		default:
			fail++
		}
	}
	return fmt.Sprintf("%d ok, %d %s, %d failed", ok, warn, plural(warn, "warning", "warnings"), fail)
}

// Problems returns one line per result that is not OK, failures first, e.g.
// "✗ port: 127.0.0.1:8764 is in use by another program: pid 4242 (nginx)".
func Problems(rs []Result) []string {
	var fails, warns []string
	for _, r := range rs {
		line := r.Status.Symbol() + " " + r.Name + ": " + r.Detail
		switch r.Status {
		case Fail:
			fails = append(fails, line)
		case Warn:
			warns = append(warns, line)
		}
	}
	return append(fails, warns...)
}

// WriteText prints one line per result (mark, name, detail) and, under each
// that is not OK, its fix, then the Summary.
func WriteText(w io.Writer, rs []Result) error {
	width := 0
	for _, r := range rs {
		width = max(width, len(r.Name))
	}
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %-*s  %s\n", r.Status.Symbol(), width, r.Name, r.Detail)
		if r.Fix != "" && r.Status != OK {
			fmt.Fprintf(&b, "  %*s  fix: %s\n", width, "", r.Fix)
		}
	}
	fmt.Fprintln(&b, Summary(rs))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the results as a JSON array of objects with name, status,
// detail and fix.
func WriteJSON(w io.Writer, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rs)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// firstLine keeps the first line of s (error messages may carry more).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// withTimeout runs fn in a goroutine and gives up after d, so a hung D-Bus or
// keychain call cannot hang the doctor. ok is false on timeout.
func withTimeout[T any](ctx context.Context, d time.Duration, fn func() T) (v T, ok bool) {
	ch := make(chan T, 1) // buffered: a late answer must not block
	go func() { ch <- fn() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case v := <-ch:
		return v, true
	case <-t.C:
		return v, false
	case <-ctx.Done():
		return v, false
	}
}
