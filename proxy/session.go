package proxy

import (
	"net/http"
	"sync/atomic"

	"github.com/clearway/clearway/proxy/breaker"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/retry"
)

// session is the ONE persistent HTTP session clearway keeps per upstream: a
// single transport that pools connections and a jar that keeps the cookies
// Cloudflare hands out (send joins them, as an http.Client would), used for
// every request and every retry. Safe for concurrent use.
type session struct {
	up        config.Upstream
	dialect   apiFormat         // the API it speaks when a request does not tell (upstreamFormat)
	transport http.RoundTripper // from Options.Transports
	jar       *cookiejar.Jar
	policy    retry.Policy
	breaker   *breaker.Breaker // nil when the upstream has no breaker (never opens)

	fixedUA string // the config's user_agent ("" = the one pinned in the cookie store)
	// upstreamValue is the X-Clearway-Upstream header value ([]string{up.Name}),
	// built once and shared by every answer (never modified).
	upstreamValue []string
	store         *cookiejar.Store // where the pinned User-Agent lives (the Server's cookie store)

	stats upstreamStats
}

// upstreamStats are the counters behind /_clearway/status and the tray.
type upstreamStats struct {
	requests   atomic.Uint64
	retries    atomic.Uint64
	failures   atomic.Uint64
	inFlight   atomic.Int64
	retrying   atomic.Int64 // requests waiting to retry right now
	lastStatus atomic.Int64
	lastErr    atomic.Pointer[string]
	lastAt     atomic.Int64                  // unix nanos of the last answer
	failing    atomic.Bool                   // the last request gave up or could not reach the upstream
	headroom   atomic.Pointer[[]retry.Limit] // the rate limits the latest answer stated
}

// noteHeadroom keeps the rate limits an upstream answer states, if any, so
// status, the tray and the dashboard can show how close the upstream is to
// them. Answers that state none leave the last known values.
func (c *upstreamStats) noteHeadroom(limits []retry.Limit) {
	if limits != nil {
		// A new pointer only here: storing &limits would move the parameter
		// to the heap on every call, answers without limits included.
		p := new([]retry.Limit)
		*p = limits
		c.headroom.Store(p)
	}
}

// clientShouldRetry is the x-should-retry value sent with a final error
// answer that came from the upstream (or from clearway giving up on it after
// its own retries): "false" unless retry.client_retries is allow, in which
// case "" leaves the header alone and the client's own rules decide.
func (s *session) clientShouldRetry() string {
	if s.up.Retry.ClientRetries {
		return ""
	}
	return "false"
}

// userAgent returns the User-Agent to send upstream: the config's, else the
// one pinned in the cookie store, else the client's, which it pins on first
// use. The store is the only memory of the pin, so `cookies clear` (which
// keeps it) and `--unpin-ua` (which forgets it, and the next client's is
// pinned) act on a running session at once, and every jar write saves it.
func (s *session) userAgent(clientUA string) string {
	if s.fixedUA != "" {
		return s.fixedUA
	}
	if ua := s.store.UserAgent(s.up.Name); ua != "" {
		return ua
	}
	if clientUA == "" {
		return defaultUserAgent
	}
	if s.store.PinUserAgent(s.up.Name, clientUA) {
		return clientUA
	}
	if ua := s.store.UserAgent(s.up.Name); ua != "" {
		return ua // another request pinned its own first
	}
	return clientUA
}

// pinnedUA is the User-Agent the session sends now ("" before the first
// client pinned one), for the status output.
func (s *session) pinnedUA() string {
	if s.fixedUA != "" {
		return s.fixedUA
	}
	return s.store.UserAgent(s.up.Name)
}

// defaultUserAgent is sent when the client sends none and nothing is pinned.
const defaultUserAgent = "clearway"
