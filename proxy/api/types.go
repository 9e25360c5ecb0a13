package api

import (
	"time"

	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/keypool"
	"github.com/clearway/clearway/proxy/retry"
	"github.com/clearway/clearway/proxy/usage"
)

// Health is the answer of GET /health: {"status":"ok"} while the proxy
// serves. Version is filled only for a caller that sent the required client
// token: an unauthenticated caller learns nothing it could fingerprint.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
}

// Status is the answer of GET /status: the proxy's state. It never holds a
// secret: cookie names and expiries, never values; key names, never keys.
type Status struct {
	Version        string           `json:"version"`
	Addr           string           `json:"addr"`
	Started        time.Time        `json:"started"`
	ClientToken    bool             `json:"client_token"`
	InFlight       int64            `json:"in_flight"`
	CookiesFile    string           `json:"cookies_file,omitempty"`
	CookiesSavedAt *time.Time       `json:"cookies_saved_at,omitempty"`
	Keys           map[string]bool  `json:"keys"` // key name -> set
	Upstreams      []UpstreamStatus `json:"upstreams"`
	Shared         *SharedStatus    `json:"shared,omitempty"` // limits shared with the team (shared:); nil when off
	Usage          *UsageStatus     `json:"usage,omitempty"`  // the usage ledger; nil when off
}

// UsageStatus is the usage ledger's state: its file, the rows written, the
// rows waiting, the rows dropped (queue full or a write failed) and the
// write error while writes fail.
type UsageStatus struct {
	Path    string `json:"path"`
	Written uint64 `json:"written"`
	Queued  int    `json:"queued"`
	Dropped uint64 `json:"dropped"`
	Error   string `json:"error,omitempty"`
}

// SharedStatus is the state of the limits shared with a team on Redis. It
// holds no secret: the Redis URL's password is hidden.
type SharedStatus struct {
	State     string     `json:"state"`         // "connected" or "degraded"
	Why       string     `json:"why,omitempty"` // why degraded
	Since     time.Time  `json:"since"`
	Redis     string     `json:"redis"` // URL, password hidden
	Namespace string     `json:"namespace"`
	Instance  string     `json:"instance"`  // this instance's id
	Instances []Instance `json:"instances"` // the team's live instances, as last seen (every few seconds)
	// LocalTurns counts the requests since start that took their turn on
	// this instance's local limits (Redis down, slow or refusing).
	LocalTurns uint64 `json:"local_turns"`
}

// Instance is one live clearway of a team, as its record in Redis says. It
// holds no secret.
type Instance struct {
	ID       string    `json:"id"`
	User     string    `json:"user"`
	Host     string    `json:"host"`
	Version  string    `json:"version,omitempty"`
	Started  time.Time `json:"started"`
	InFlight int64     `json:"in_flight"`
	Self     bool      `json:"self,omitempty"` // the instance that answered
}

// UpstreamStatus is one upstream's counters and session state.
type UpstreamStatus struct {
	Name        string        `json:"name"`
	URL         string        `json:"url"`
	State       health.Health `json:"state"` // "idle", "ok", "retrying", "failing"
	Requests    uint64        `json:"requests"`
	Retries     uint64        `json:"retries"`
	Failures    uint64        `json:"failures"`
	InFlight    int64         `json:"in_flight"`
	Retrying    int64         `json:"retrying"`
	LastStatus  int           `json:"last_status,omitempty"`
	LastError   string        `json:"last_error,omitempty"`
	LastAt      *time.Time    `json:"last_at,omitempty"`
	QueueLength int           `json:"queue_length"`
	UserAgent   string        `json:"user_agent,omitempty"`
	Key         string        `json:"key,omitempty"`
	// KeyPool is the state of each of the upstream's keys, in order of
	// preference (ready, cooling until a time, refused and why); names only.
	// Empty when the upstream sends no key of its own.
	KeyPool     []keypool.KeyStatus `json:"key_pool,omitempty"`
	Breaker     string              `json:"breaker,omitempty"`   // "closed", "open", "half-open"; "" when it has none
	Fallbacks   []string            `json:"fallbacks,omitempty"` // where its finally failed requests go, in order
	CookieCount int                 `json:"cookie_count"`
	CookieNames []string            `json:"cookie_names"`
	Cookies     []CookieStatus      `json:"cookies"`
	// RateLimits are the limits the upstream's latest answer stated
	// (anthropic-ratelimit-*, x-ratelimit-*), for headroom bars.
	RateLimits []retry.Limit `json:"rate_limits,omitempty"`
}

// CookieStatus describes one cookie without its value.
type CookieStatus struct {
	Name    string     `json:"name"`
	Domain  string     `json:"domain"`
	Path    string     `json:"path"`
	Expires *time.Time `json:"expires,omitempty"` // nil: session cookie
}

// CookieEntry is one cookie as GET /cookies and `clearway cookies list`
// show it. Value is empty unless values=1 was asked for.
type CookieEntry struct {
	Upstream string     `json:"upstream"`
	Name     string     `json:"name"`
	Domain   string     `json:"domain"`
	Path     string     `json:"path"`
	Expires  *time.Time `json:"expires,omitempty"`
	Secure   bool       `json:"secure"`
	HttpOnly bool       `json:"http_only"`
	Value    string     `json:"value,omitempty"`
}

// ClearResult is the answer of POST /cookies/clear.
type ClearResult struct {
	Cleared  int  `json:"cleared"`  // cookies removed
	Unpinned bool `json:"unpinned"` // the pinned User-Agent was forgotten too
}

// ImportResult is the answer of POST /cookies/import.
type ImportResult struct {
	Imported  map[string]int `json:"imported"`          // cookies added per upstream
	Unmatched int            `json:"unmatched"`         // cookies that matched no upstream's host
	Skipped   string         `json:"skipped,omitempty"` // why some lines were not cookies (the others were imported)
}

// KeysResult is the answer of POST /keys/reload: per key name, whether it is set.
type KeysResult struct {
	Keys map[string]bool `json:"keys"`
}

// ErrorBody decodes the proxy's error answers, Anthropic-shaped
// {"type":"error","error":{"type","message"}} and OpenAI-shaped
// {"error":{"type","message",...}} alike.
type ErrorBody struct {
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// Usage is the answer of GET /usage: the report's rows (grouping key plus
// sums, see usage.Row), their total, and what they cover. Costs are
// estimates from the price table dated PricesDate.
type Usage struct {
	Since      time.Time   `json:"since"` // zero: all rows
	By         string      `json:"by"`
	Rows       []usage.Row `json:"rows"`
	Total      usage.Row   `json:"total"`
	PricesDate string      `json:"prices_date"`
}

// Attempt is one attempt of a request to an upstream, for the dashboard's
// timeline: what the upstream answered, why clearway did what it did next,
// and how long it waited before the next attempt.
type Attempt struct {
	N        int     `json:"n"`
	Upstream string  `json:"upstream"`
	Key      string  `json:"key,omitempty"`    // key name, never a value
	Cookies  int     `json:"cookies"`          // cookies in the session's jar when it went out
	Status   int     `json:"status,omitempty"` // 0: no answer
	Reason   string  `json:"reason,omitempty"` // the retry verdict's reason, e.g. "cloudflare 1015"
	WaitMS   float64 `json:"wait_ms,omitempty"`
	WaitWhy  string  `json:"wait_why,omitempty"` // where the wait came from, e.g. "retry-after 3s"
}

// Request is one finished request in the live log (GET /requests, the
// "request" events of GET /events). It never holds a secret.
type Request struct {
	ID         uint64    `json:"id"`
	Time       time.Time `json:"time"`
	Client     string    `json:"client"`
	Upstream   string    `json:"upstream"`              // who answered (or was last tried)
	AnsweredBy string    `json:"answered_by,omitempty"` // set when a fallback answered for Upstream
	Model      string    `json:"model,omitempty"`
	Stream     bool      `json:"stream"`
	Status     int       `json:"status"`
	Attempts   int       `json:"attempts"`
	DurationMS float64   `json:"duration_ms"`
	TTFBMS     float64   `json:"ttfb_ms"`
	usage.Tokens
	AttemptLog []Attempt `json:"attempt_log"`
}

// Requests is the answer of GET /requests, newest first.
type Requests struct {
	Requests []Request `json:"requests"`
}

// UICode is the answer of POST /ui/code: a link that logs a browser in to the
// dashboard once, within a minute.
type UICode struct {
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
}

// TokenRotated is the answer of POST /token/rotate: the new client token.
type TokenRotated struct {
	Token string `json:"token"`
}

// Settings are the dashboard's switches and what it shows of the config. In
// a POST, nil fields are left as they are.
type Settings struct {
	Notifications *bool  `json:"notifications,omitempty"`
	Autostart     *bool  `json:"autostart,omitempty"`
	ConfigPath    string `json:"config_path,omitempty"`
	ConfigCheck   string `json:"config_check,omitempty"`
}
