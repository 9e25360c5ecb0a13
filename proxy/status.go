package proxy

import (
	"github.com/clearway/clearway/proxy/keypool"
	"sort"
	"time"

	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/retry"
)

// Status is the proxy's state as /_clearway/status shows it. It never holds a
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

// Status returns a snapshot of the proxy's state. Safe for concurrent use.
func (s *Server) Status() Status {
	st := Status{
		Version:     s.version,
		Addr:        s.Addr(),
		Started:     s.started,
		ClientToken: s.guard.tokenRequired(),
		InFlight:    s.inFlight.Load(),
		Keys:        s.keys.status(),
	}
	if t := s.cookies.SavedAt(); !t.IsZero() {
		st.CookiesSavedAt = &t
	}
	st.CookiesFile = s.cookies.Path()
	for _, name := range s.names {
		sess := s.sessions[name]
		us := sess.status()
		us.QueueLength = s.limiter.Waiting(name)
		if s.pools != nil {
			us.KeyPool = s.pools.status(name)
		}
		if sess.breaker != nil {
			us.Breaker = sess.breaker.State()
		}
		us.Fallbacks = sess.up.Fallbacks
		st.Upstreams = append(st.Upstreams, us)
	}
	return st
}

func (sess *session) status() UpstreamStatus {
	c := &sess.stats
	us := UpstreamStatus{
		Name:        sess.up.Name,
		URL:         sess.up.URL.String(),
		Requests:    c.requests.Load(),
		Retries:     c.retries.Load(),
		Failures:    c.failures.Load(),
		InFlight:    c.inFlight.Load(),
		Retrying:    c.retrying.Load(),
		LastStatus:  int(c.lastStatus.Load()),
		Key:         sess.up.Key,
		CookieNames: []string{},
		Cookies:     []CookieStatus{},
	}
	us.UserAgent = sess.pinnedUA()
	if p := c.lastErr.Load(); p != nil {
		us.LastError = *p
	}
	if at := c.lastAt.Load(); at != 0 {
		t := time.Unix(0, at)
		us.LastAt = &t
	}
	us.State = c.health()
	if l := c.headroom.Load(); l != nil {
		us.RateLimits = *l
	}
	names := map[string]bool{}
	for _, rec := range sess.jar.Records() {
		cs := CookieStatus{Name: rec.Name, Domain: rec.Domain, Path: rec.Path}
		if !rec.Expires.IsZero() {
			e := rec.Expires
			cs.Expires = &e
		}
		us.Cookies = append(us.Cookies, cs)
		names[rec.Name] = true
	}
	for n := range names {
		us.CookieNames = append(us.CookieNames, n)
	}
	sort.Strings(us.CookieNames)
	us.CookieCount = len(us.Cookies)
	return us
}

// health decides the upstream's health from its counters.
func (c *upstreamStats) health() health.Health {
	switch {
	case c.retrying.Load() > 0:
		return health.Retrying
	case c.failing.Load():
		return health.Failing
	case c.requests.Load() == 0:
		return health.Idle
	default:
		return health.OK
	}
}

// Counters is one upstream's live counters: what Status reports, minus
// everything that needs a lock or a walk through the cookie jar, so it is
// cheap enough to poll. The zero value is an idle upstream with no name.
type Counters struct {
	Name       string
	Health     health.Health
	Requests   uint64
	Retries    uint64
	Failures   uint64
	InFlight   int64
	LastStatus int
}

// Counters returns every upstream's counters, sorted by name. It reads
// atomics only. Safe for concurrent use.
func (s *Server) Counters() []Counters {
	out := make([]Counters, 0, len(s.names))
	for _, name := range s.names {
		c := &s.sessions[name].stats
		out = append(out, Counters{
			Name:       name,
			Health:     c.health(),
			Requests:   c.requests.Load(),
			Retries:    c.retries.Load(),
			Failures:   c.failures.Load(),
			InFlight:   c.inFlight.Load(),
			LastStatus: int(c.lastStatus.Load()),
		})
	}
	return out
}
