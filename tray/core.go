package tray

import "github.com/clearway/clearway/proxy/events"

// Core is what the tray needs from the running application.
//
// The tray calls it from several goroutines at once, so implementations must
// be safe for concurrent use. Only State and Changed are called on the menu's
// own goroutine and must be fast; the others run on click goroutines and may
// take a while (starting the proxy, the keychain). Errors are shown to the
// user in a notification, so they should read well and hold no secret.
type Core interface {
	State() State                                    // immutable snapshot, cheap
	Changed() <-chan struct{}                        // receives (coalesced, non-blocking sends) whenever State may have changed
	Events(buffer int) (<-chan events.Event, func()) // github.com/clearway/clearway/proxy/events: subscribe for notifications
	Start() error                                    // start the proxy (no-op if running)
	Stop() error                                     // stop the proxy (no-op if stopped)
	ClearCookies(upstream string) error
	SetKey(name, secret string) error // into the keychain; takes effect on the running proxy
	DeleteKey(name string) error
	ClientToken() (string, error)
	SetPreference(name string, on bool) error // "notifications", "start_at_login": persisted by the core
}

// Preference names accepted by Core.SetPreference.
const (
	PrefNotifications = "notifications"
	PrefStartAtLogin  = "start_at_login"
)

// State is an immutable snapshot of the application, as the tray shows it.
// The zero value is a stopped proxy with nothing configured. The tray never
// modifies a State it received; the core must not modify one it handed out.
type State struct {
	Version       string
	Running       bool
	Addr          string // "127.0.0.1:8764"
	BaseURL       string // "http://127.0.0.1:8764"
	Problem       string // "" or a one-line problem, e.g. "Port 8764 is in use", "Keychain locked"
	Upstreams     []UpstreamState
	Keys          []KeyState
	Notifications bool
	StartAtLogin  bool
	ConfigPath    string
	LogDir        string
}

// UpstreamState is one upstream API as the tray shows it. The zero value is
// an idle upstream with no name.
type UpstreamState struct {
	Name, URL         string
	Health            Health // HealthIdle, HealthOK, HealthRetrying (rate limited, retrying), HealthFailing
	Requests, Retries uint64
	InFlight          int
	Cookies           int
	LastStatus        int
	Circuit           string   // "" or "closed": normal; "open" or "half-open": its circuit breaker skips it
	Fallbacks         []string // where its failed requests go, in order
}

// KeyState is one keychain entry the configuration names. The zero value is
// a missing key with no name that no upstream uses.
type KeyState struct {
	Name   string
	Set    bool
	UsedBy []string
	// Pool is the key's state in its upstreams' key pools when it is not
	// ready: "cooling until 14:03:10" or "refused: 401"; "" when ready.
	Pool string
}

// Health is how an upstream is doing. The zero value is HealthIdle.
type Health int

// The health of an upstream.
const (
	HealthIdle     Health = iota // no request yet
	HealthOK                     // the last request succeeded
	HealthRetrying               // rate limited (or failing) and retrying
	HealthFailing                // the last request failed after all retries, or the upstream is unreachable
)

// String returns the words the menu uses for h: "idle", "ok",
// "rate limited, retrying" or "failing".
func (h Health) String() string {
	switch h {
	case HealthOK:
		return "ok"
	case HealthRetrying:
		return "rate limited, retrying"
	case HealthFailing:
		return "failing"
	default:
		return "idle"
	}
}
