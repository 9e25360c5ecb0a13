// Package view is the typed picture of the running application that user
// interfaces show (the tray today, the dashboard next), and the actions they
// may ask of it. It holds data types and one interface only, so a UI depends
// on it without depending on the proxy or on package app.
//
// The application (package app) computes a new Snapshot when something
// changes and hands out the same immutable value to every reader until the
// next change; readers never parse strings back into state.
package view

import (
	"time"

	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/retry"
)

// Phase is where the proxy server is in its lifecycle. The zero value is
// Stopped.
//
// The transitions (package app's Lifecycle enforces them):
//
//	Stopped  --Start-->  Starting --ready--> Running --Stop--> Stopping --> Stopped
//	Starting --Stop-->   Stopping (the server being built is never served)
//	Stopping --Start-->  Starting once the old server is gone
//	Starting/Running --the server fails or ends by itself--> Failed (with the reason)
//	Failed   --Start-->  Starting;  Failed --Stop--> Stopped
type Phase int

// The phases of the proxy server.
const (
	Stopped  Phase = iota // no server; the port is closed
	Starting              // a server is being built or is binding its port
	Running               // the server accepts connections
	Stopping              // the server is shutting down (or a build is being abandoned)
	Failed                // the last server could not start or ended by itself; Snapshot.Problem says why
)

var phaseWords = [...]string{Stopped: "stopped", Starting: "starting", Running: "running", Stopping: "stopping", Failed: "failed"}

// String returns "stopped", "starting", "running", "stopping" or "failed".
func (p Phase) String() string {
	if p < 0 || int(p) >= len(phaseWords) {
		return "unknown"
	}
	return phaseWords[p]
}

// MarshalText writes the phase as its word.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Busy reports whether the phase is a transition (Starting or Stopping),
// during which the server neither fully serves nor is fully gone.
func (p Phase) Busy() bool { return p == Starting || p == Stopping }

// Snapshot is the application's state at one moment, as a UI shows it. It is
// immutable once handed out: neither the application nor a reader modifies
// it or the slices it holds, so it may be shared between goroutines without
// locks. The zero value is a stopped proxy with nothing configured.
type Snapshot struct {
	Version string
	Phase   Phase
	// Since is when Phase was entered (the application's clock).
	Since time.Time
	// Addr is the address the server listens on while Running, else the
	// configured listen address ("127.0.0.1:8764").
	Addr    string
	BaseURL string // "http://" + Addr
	// Problem is "" or one line that needs the user: why the proxy Failed
	// ("Port 8764 is in use"), or a problem while it runs ("Keychain: ...").
	// It never holds a secret.
	Problem string
	// Shared is the state of the limits shared with the team on Redis:
	// "" without a shared: block, "connected" or "degraded" (SharedWhy says
	// why). Team is how many of the team's clearways are live (this one
	// included) while connected.
	Shared        string
	SharedWhy     string
	Team          int
	Upstreams     []Upstream // in the order of the configuration (sorted by name)
	Keys          []Key      // sorted by name
	Notifications bool       // desktop notifications of proxy events are on
	StartAtLogin  bool       // clearway starts when the user logs in
	ConfigPath    string
	LogDir        string
	// Today is the ledger's count since local midnight; zero without a ledger.
	Today Usage
}

// Running reports whether the proxy serves (Phase is Running).
func (s Snapshot) Running() bool { return s.Phase == Running }

// Upstream is one upstream API. The zero value is an idle upstream with no
// name.
type Upstream struct {
	Name, URL         string
	Health            health.Health
	Requests, Retries uint64
	InFlight          int
	Cookies           int      // cookies kept in its jar
	LastStatus        int      // HTTP status of the last answer; 0 before any
	Circuit           Circuit  // its circuit breaker's state
	Fallbacks         []string // where its failed requests go, in order
	// RateLimits are the limits its latest answer stated (remaining of
	// limit, reset), for headroom; nil before any such answer.
	RateLimits []retry.Limit
}

// Usage is what the usage ledger counted since local midnight. The zero
// value is nothing used (or no ledger).
type Usage struct {
	Requests int64
	Tokens   int64   // input + output + cache reads + cache writes
	CostUSD  float64 // an estimate from the price table
}

// Key is one keychain entry the configuration names. The zero value is a
// missing key with no name that no upstream uses. It never holds the secret.
type Key struct {
	Name   string
	Set    bool
	UsedBy []string // upstream names, in configuration order
	// Pool is the key's state in its upstreams' key pools when it is not
	// ready: "cooling until 14:03:10" or "refused: 401"; "" when ready.
	Pool string
}

// Pref names a switch the user can flip. The zero value is not a preference.
type Pref int

// The preferences Actions.SetPreference accepts.
const (
	_             Pref = iota
	Notifications      // desktop notifications of proxy events
	StartAtLogin       // start clearway when the user logs in
)

// String returns "notifications" or "start_at_login".
func (p Pref) String() string {
	switch p {
	case Notifications:
		return "notifications"
	case StartAtLogin:
		return "start_at_login"
	default:
		return "unknown"
	}
}

// Actions are what a UI may ask the application to do. Every method may
// block (building a server, a keychain call) and is safe for concurrent use.
// Errors read well in a notification and never hold a secret.
type Actions interface {
	// Start starts the proxy and waits until it serves or fails; a no-op
	// while it runs. A Start during a Stop starts again once stopped.
	Start() error
	// Stop stops the proxy and waits until its port is closed; a no-op
	// while stopped. A Stop during a Start abandons that start.
	Stop() error
	// ClearCookies forgets the cookies of one upstream ("" = every one).
	ClearCookies(upstream string) error
	// SetKey stores an API key in the keychain; the running proxy uses it at once.
	SetKey(name, secret string) error
	// DeleteKey removes an API key from the keychain (no error when absent).
	DeleteKey(name string) error
	// SetPreference turns a preference on or off and keeps it.
	SetPreference(p Pref, on bool) error
	// ClientToken returns the local client token (a secret: for the
	// clipboard and for redaction, never for display).
	ClientToken() (string, error)
	// DashboardURL returns a one-time login link to the running proxy's
	// dashboard (single use, 60 s); an error while the proxy is stopped.
	DashboardURL() (string, error)
}

// Circuit is an upstream's circuit breaker state. The zero value is
// CircuitClosed (requests go to the upstream, also when it has no breaker).
type Circuit uint8

const (
	CircuitClosed   Circuit = iota // requests go to the upstream
	CircuitOpen                    // requests skip it until the cooldown ends
	CircuitHalfOpen                // one probe may go; the others skip it
)

// CircuitOf reads the breaker state as status reports it ("closed", "open",
// "half-open"; anything else is closed).
func CircuitOf(state string) Circuit {
	switch state {
	case "open":
		return CircuitOpen
	case "half-open":
		return CircuitHalfOpen
	}
	return CircuitClosed
}

// String is the state as status and the tray say it.
func (c Circuit) String() string {
	switch c {
	case CircuitOpen:
		return "open"
	case CircuitHalfOpen:
		return "half-open"
	}
	return "closed"
}
