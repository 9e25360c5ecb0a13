package proxy

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/retry"
)

// session is the ONE persistent HTTP session clearway keeps per upstream: a
// single http.Client whose Transport pools connections and whose Jar keeps the
// cookies Cloudflare hands out, used for every request and every retry. Safe for
// concurrent use.
type session struct {
	up      config.Upstream
	client  *http.Client // its Transport comes from Options.Transports
	jar     *cookiejar.Jar
	policy  retry.Policy
	headers map[string]string // extra headers with ${env:...} resolved; ${key:...} resolved per attempt by the Credentials

	uaMu sync.Mutex
	ua   string // the User-Agent sent upstream: config, else pinned, else first client's

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
func (c *upstreamStats) noteHeadroom(h http.Header, now time.Time) {
	if l := retry.Headroom(h, now); l != nil {
		c.headroom.Store(&l)
	}
}

// userAgent returns the User-Agent to send, pinning the client's on first use
// when neither the config nor the cookie store has one.
func (s *session) userAgent(clientUA string, store *cookiejar.Store) string {
	s.uaMu.Lock()
	defer s.uaMu.Unlock()
	if s.ua != "" {
		return s.ua
	}
	if clientUA == "" {
		return defaultUserAgent
	}
	s.ua = clientUA
	if store != nil {
		store.PinUserAgent(s.up.Name, clientUA)
	}
	return s.ua
}

// defaultUserAgent is sent when the client sends none and nothing is pinned.
const defaultUserAgent = "clearway"
