package proxy

import (
	"sort"
	"time"

	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/ledger"
)

// Status is the proxy's state as /_clearway/status shows it (api.Status).
type Status = api.Status

// UpstreamStatus is one upstream's counters and session state (api.UpstreamStatus).
type UpstreamStatus = api.UpstreamStatus

// CookieStatus describes one cookie without its value (api.CookieStatus).
type CookieStatus = api.CookieStatus

// Status returns a snapshot of the proxy's state. Safe for concurrent use.
func (s *Server) Status() Status {
	st := Status{
		Version:     s.version,
		Addr:        s.Addr(),
		Started:     s.started,
		ClientToken: s.guard.tokenRequired(),
		InFlight:    s.inFlight.Load(),
		Keys:        s.keys.status(),
		Shared:      s.sharedStatus(),
	}
	if l, ok := s.recorder.(interface{ Stats() ledger.Stats }); ok {
		ls := l.Stats()
		st.Usage = &api.UsageStatus{Path: ls.Path, Written: ls.Written, Queued: ls.Queued, Dropped: ls.Dropped, Error: ls.Error}
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
