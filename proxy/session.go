package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/retry"
	"github.com/clearway/clearway/proxy/throttle"
)

// session is the ONE persistent HTTP session clearway keeps per upstream: a
// single http.Client whose Transport pools connections and whose Jar keeps the
// cookies Cloudflare hands out, used for every request and every retry. Safe for
// concurrent use.
type session struct {
	up        config.Upstream
	client    *http.Client
	transport *http.Transport
	jar       *cookiejar.Jar
	policy    retry.Policy
	limiter   *throttle.Limiter
	headers   map[string]string // extra headers with ${env:...} resolved; ${key:...} resolved per request from the key cache

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
	lastAt     atomic.Int64 // unix nanos of the last answer
	failing    atomic.Bool  // the last request gave up or could not reach the upstream
}

// newTransport builds the pooled transport one upstream uses. HTTPS_PROXY and
// NO_PROXY are honoured; SSL_CERT_FILE works through the system roots; roots,
// when non-nil, replaces them (tests).
func newTransport(t config.Timeouts, roots *x509.CertPool) *http.Transport {
	dialer := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256, // bursts from agents fan out; keep their connections warm
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   t.TLSHandshake,
		ResponseHeaderTimeout: t.ResponseHeader,
		ExpectContinueTimeout: time.Second,
		// Pass the client's Accept-Encoding through and its bytes back untouched:
		// no transparent gunzip that would cost CPU and hold back SSE events.
		DisableCompression: true,
		// Read and write buffers stay at the transport's 4 KiB default: LLM
		// answers are small or streamed in small events, and 32 KiB buffers
		// cost 56 KiB more per upstream connection (measured: 1,000 open
		// streams took 87 MiB with them, the stock proxy 68 MiB).
	}
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return tr
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
