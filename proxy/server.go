package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/clearway/clearway/proxy/breaker"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/metrics"
	"github.com/clearway/clearway/proxy/retry"
	"github.com/clearway/clearway/proxy/seam"
	"github.com/clearway/clearway/proxy/shared"
	"github.com/clearway/clearway/proxy/throttle"
	"github.com/clearway/clearway/proxy/usage"
	"golang.org/x/net/netutil"
)

// Options configure a Server. Config is required; everything else has a
// working default.
type Options struct {
	Config      *config.Config
	Cookies     *cookiejar.Store // persistent jars; nil keeps them in memory only
	Keys        KeySource        // API keys; nil means no key can be injected
	KeyNotFound func(error) bool // recognises Keys' "not set" errors besides ErrKeyNotFound
	Token       string           // client token required when Config.ClientToken is true
	TokenName   string           // name of the token in Keys, re-read by ReloadKeys ("" = never)
	// MissingKey tells the user how to provide a key that is not set, e.g.
	// "run `clearway keys set NAME`" (the default when nil).
	MissingKey func(name string) string
	Bus        *events.Bus    // where events go; nil drops them
	Logger     *slog.Logger   // nil: slog.Default()
	RootCAs    *x509.CertPool // trust these instead of the system roots (tests)
	Clock      throttle.Clock // time for retry waits and throttling; nil: the wall clock
	Version    string         // shown by /_clearway/health and status
	Listener   net.Listener   // serve on this instead of listening on Config.Listen
	// AdminSocket, if set, is a unix socket path where the /_clearway/
	// endpoints are also served, to the same user only (Linux and macOS;
	// see adminsocket.go). "" serves them on TCP alone.
	AdminSocket string

	// The request path's seams (see package seam). Each nil field gets the
	// default, which is what clearway does without them.

	// Limiter decides when a request may go upstream. nil: throttle.NewLocal
	// with each upstream's throttle settings and Clock.
	Limiter seam.Limiter
	// Credentials gives each attempt its key headers and hears how the
	// upstream answered. nil: the single-key injection (the upstream's key in
	// its auth header, ${key:NAME} in its headers, from Keys, 401 naming the
	// key when it is not set).
	Credentials seam.Credentials
	// Transports builds each upstream's RoundTripper. nil: seam.HTTPTransports
	// with Config.Timeouts and RootCAs.
	Transports seam.Transports
	// Recorder receives one usage.Record per request routed to an upstream,
	// once it ended (answered, failed or refused locally). nil: none kept.
	Recorder usage.Recorder
	// Usage answers GET /_clearway/usage; nil: the ledger is off (503).
	Usage usage.Source

	// Dashboard serves the pages under /_clearway/ui/ (package dashboard);
	// nil: none.
	Dashboard http.Handler
	// Browser lets a logged-in dashboard page call the admin API without the
	// client token. nil: only the token opens it.
	Browser BrowserSessions
	// Routes are more admin endpoints (the application's: keys, token,
	// settings, dashboard login codes), behind the same auth as the others.
	Routes []Route
}

// BrowserSessions recognises admin API calls made from a logged-in dashboard
// page. Implementations are safe for concurrent use.
type BrowserSessions interface {
	// Allow reports whether r carries a live dashboard session (present) and
	// whether that session may make this call (allowed: reads always; a
	// change only with its CSRF token and clearway's own Origin).
	Allow(r *http.Request) (present, allowed bool)
}

// noBrowser is the BrowserSessions with no session ever.
type noBrowser struct{}

func (noBrowser) Allow(*http.Request) (present, allowed bool) { return false, false }

// Route is one more admin endpoint: Method and Path as http.ServeMux
// patterns ("PUT", "/_clearway/keys/{name}").
type Route struct {
	Method  string
	Path    string
	Handler http.HandlerFunc
}

// Server is the proxy. Build it with New, run it with Run. It is safe for
// concurrent use; Run may be called once.
type Server struct {
	cfg      *config.Config
	log      *slog.Logger
	bus      *events.Bus
	cookies  *cookiejar.Store
	keys     *keyCache
	keySrc   KeySource
	tokName  string
	missing  func(name string) string
	guard    *guard
	refusals *refusalLog // rate-limits the warnings for refused requests
	clock    throttle.Clock
	limiter  seam.Limiter
	creds    seam.Credentials
	pools    *keyPools // the default Credentials, nil when Options.Credentials replaced it
	version  string
	sessions map[string]*session
	admin    *http.ServeMux // /_clearway/ endpoints (admin.go)
	names    []string       // upstream names, sorted
	started  time.Time

	// The team's shared limits (teams.go): the Redis client when limits
	// are shared (closed by Run), or the status of a shared: block that
	// could not even be tried (its password's key missing).
	shared       *shared.Client
	sharedBroken *shared.Status

	listener net.Listener
	sockPath string                 // Options.AdminSocket
	socket   atomic.Pointer[string] // the admin socket while it serves
	addr     atomic.Pointer[string]
	ready    chan struct{}
	inFlight atomic.Int64
	handlers sync.WaitGroup // every ServeHTTP call, so Run returns only after them
	runOnce  sync.Once

	recorder usage.Recorder
	usageSrc usage.Source

	live      liveLog       // the last requests, for the dashboard
	stopping  chan struct{} // closed when shutdown begins: event streams end
	browser   BrowserSessions
	dashboard http.Handler
	routes    []Route
	metrics   *metrics.Metrics
}

// MaxHeaderBytes bounds a client's request headers; beyond it the answer is
// 431. LLM clients send a few KiB; 64 KiB leaves room for long tokens and
// cookies while 200 slow clients cost ~14 MiB instead of ~200 MiB.
const MaxHeaderBytes = 64 << 10

// ErrPortInUse is matched (errors.Is) by Run's error when the listen address is taken.
var ErrPortInUse = errors.New("port in use")

// New builds a Server from opts: one session per upstream, created now and
// reused for every request.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("proxy: no config")
	}
	cfg := opts.Config
	s := &Server{
		cfg:      cfg,
		log:      opts.Logger,
		bus:      opts.Bus,
		cookies:  opts.Cookies,
		keySrc:   opts.Keys,
		tokName:  opts.TokenName,
		missing:  opts.MissingKey,
		clock:    opts.Clock,
		version:  opts.Version,
		sessions: map[string]*session{},
		listener: opts.Listener,
		sockPath: opts.AdminSocket,
		ready:    make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.recorder, s.usageSrc = opts.Recorder, opts.Usage
	if s.recorder == nil {
		s.recorder = usage.Nop{}
	}
	s.metrics = metrics.New(s.liveMetrics())
	if s.clock == nil {
		s.clock = throttle.RealClock{}
	}
	if s.missing == nil {
		s.missing = func(name string) string { return "run `clearway keys set " + name + "`" }
	}
	if s.cookies == nil {
		var err error
		if s.cookies, err = cookiejar.Open(cookiejar.Options{Logger: s.log}); err != nil {
			return nil, fmt.Errorf("proxy: in-memory cookie store: %w", err)
		}
	}
	token := ""
	if cfg.ClientToken {
		if opts.Token == "" {
			return nil, errors.New("proxy: client_token is on but no token was given")
		}
		token = opts.Token
	}
	s.refusals = newRefusalLog(refusalInterval, s.clock.Now)
	s.guard = newGuard(cfg.Listen, cfg.AllowedHosts, cfg.AllowedOrigins, token)
	s.stopping = make(chan struct{})
	s.browser, s.dashboard, s.routes = opts.Browser, opts.Dashboard, opts.Routes
	if s.browser == nil {
		s.browser = noBrowser{}
	}
	s.admin = s.newAdminMux()
	transports := opts.Transports
	if transports == nil {
		transports = seam.HTTPTransports{
			Connect:        cfg.Timeouts.Connect,
			TLSHandshake:   cfg.Timeouts.TLSHandshake,
			ResponseHeader: cfg.Timeouts.ResponseHeader,
			RootCAs:        opts.RootCAs,
		}
	}
	s.limiter = opts.Limiter
	var sharedLocal *throttle.Local // set when the limits are to be shared with the team
	if s.limiter == nil {
		settings := make(map[string]throttle.Settings, len(cfg.Upstreams))
		for _, up := range cfg.Upstreams {
			settings[up.Name] = throttle.Settings{
				PerMinute:     up.Throttle.RequestsPerMinute,
				Burst:         up.Throttle.Burst,
				MaxConcurrent: up.Throttle.MaxConcurrent,
				MaxWait:       up.Throttle.MaxQueueWait,
			}
		}
		local := throttle.NewLocal(settings, s.clock)
		s.limiter = local
		if cfg.Shared.Enabled() {
			sharedLocal = local
		}
	}
	var keyNames []string
	seen := map[string]bool{}
	headers := map[string]map[string]string{}
	for _, up := range cfg.Upstreams {
		sess, err := s.newSession(up, transports)
		if err != nil {
			return nil, err
		}
		// Extra headers with ${env:...} resolved now; ${key:...} is resolved
		// per attempt by the Credentials.
		extra := make(map[string]string, len(up.Headers))
		for k, v := range up.Headers {
			extra[k] = config.Expand(v, "env", os.Getenv)
		}
		headers[up.Name] = extra
		s.sessions[up.Name] = sess
		s.names = append(s.names, up.Name)
		for _, k := range up.KeyNames() {
			if !seen[k] {
				seen[k] = true
				keyNames = append(keyNames, k)
			}
		}
	}
	sort.Strings(s.names)
	s.dropStaleCloudflare(time.Now())
	s.keys = newKeyCache(opts.Keys, opts.KeyNotFound, keyNames)
	s.creds = opts.Credentials
	if s.creds == nil {
		s.pools = newKeyPools(newSingleKey(s.keys, cfg.Upstreams, headers), cfg.Upstreams, s.clock, s.log, s.bus)
		s.keys.onChange = s.pools.forgive
		s.creds = s.pools
	}
	if err := s.keys.reload(time.Now()); err != nil {
		s.log.Warn("keychain: could not read the API keys; requests that need them will fail until it answers", "err", err)
		s.bus.Publish(events.Event{Kind: events.KeychainError, Err: err.Error()})
	}
	if sharedLocal != nil {
		s.openShared(opts, sharedLocal) // last: nothing can fail after it
	}
	return s, nil
}

func (s *Server) newSession(up config.Upstream, transports seam.Transports) (*session, error) {
	tr, err := transports.Transport(up.Name, up.URL)
	if err != nil {
		return nil, fmt.Errorf("proxy: transport for upstream %s: %w", up.Name, err)
	}
	jar := s.cookies.Jar(up.Name)
	sess := &session{
		up:      up,
		dialect: upstreamFormat(up),
		jar:     jar,
		policy: retry.Policy{
			MaxRetries:    up.Retry.MaxRetries,
			InitialDelay:  up.Retry.InitialDelay,
			MaxDelay:      up.Retry.MaxDelay,
			MaxRetryAfter: up.Retry.MaxRetryAfter,
		},
	}
	sess.breaker = breaker.New(breaker.Settings{
		Name:     up.Name,
		Failures: up.Breaker.Failures,
		Cooldown: up.Breaker.Cooldown,
		OnChange: func(c breaker.Change) { s.breakerChanged(up, c) },
	})
	// No redirect is followed (session.send): the client must see it itself;
	// following it here would also carry its key to wherever the upstream
	// points.
	sess.transport = tr
	if tr == nil {
		sess.transport = http.DefaultTransport // as an http.Client without a Transport
	}
	sess.fixedUA = up.UserAgent
	sess.upstreamValue = []string{up.Name}
	sess.store = s.cookies
	return sess, nil
}

// Addr returns the address the server listens on, once Ready is closed.
func (s *Server) Addr() string {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run listens (unless a Listener was given) and serves until ctx is done, then
// shuts down gracefully: no new connections, in-flight requests get
// Config.Timeouts.Shutdown to finish, what is left is cut and counted. Run
// returns nil after a clean shutdown, or the listen/serve error.
func (s *Server) Run(ctx context.Context) error {
	first := false
	s.runOnce.Do(func() { first = true })
	if !first {
		return errors.New("proxy: Run called twice")
	}
	if s.shared != nil {
		// Connected here, not in New: a server that is built but never
		// run holds no connection and no goroutine.
		s.shared.Start()
		defer s.shared.Close()
	}
	ln := s.listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				err = fmt.Errorf("listen on %s: %w (%w)", s.cfg.Listen, ErrPortInUse, err)
				s.bus.Publish(events.Event{Kind: events.PortInUse, Addr: s.cfg.Listen, Err: err.Error()})
				return err
			}
			return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
		}
	}
	if n := s.cfg.MaxConnections; n > 0 {
		// Past the cap, Accept waits for a connection to close: new clients
		// queue in the kernel's backlog instead of costing memory here.
		ln = netutil.LimitListener(ln, n)
	}
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	if host, _, _ := net.SplitHostPort(addr); !config.IsLoopbackHost(host) {
		s.log.Warn("LISTENING ON A NON-LOOPBACK ADDRESS: other machines can reach this proxy; every request needs the client token",
			"addr", addr, "allow_remote", s.cfg.AllowRemote)
	}
	s.guard.port = portOf(addr)
	s.started = time.Now()

	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.Timeouts.ReadHeader,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	hs.Protocols = new(http.Protocols)
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true) // h2c: HTTP/2 clients with prior knowledge
	var stopOnce sync.Once
	hs.RegisterOnShutdown(func() { stopOnce.Do(func() { close(s.stopping) }) }) // event streams end, so Shutdown is not held by them

	if s.sockPath != "" {
		stopSocket, err := s.serveAdminSocket(s.sockPath)
		if err != nil {
			s.log.Warn("admin socket not available; clearway commands reach this instance over TCP with the token", "path", s.sockPath, "err", err)
		} else {
			p := s.sockPath
			s.socket.Store(&p)
			defer func() { s.socket.Store(nil); stopSocket() }()
		}
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	defer stopRefresh()
	go s.refreshKeysEvery(refreshCtx, keyRefreshInterval)
	close(s.ready)
	s.log.Info("listening", "addr", addr, "upstreams", strings.Join(s.names, ","), "client_token", s.guard.tokenRequired())
	s.bus.Publish(events.Event{Kind: events.Listening, Addr: addr})

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		err = s.shutdown(hs)
		<-served
	}
	// Close does not wait for handlers that were cut; wait (bounded) so that
	// nothing touches the cookie jars after Run returns and the caller saves them.
	handlersDone := make(chan struct{})
	go func() { s.handlers.Wait(); close(handlersDone) }()
	select {
	case <-handlersDone:
	case <-time.After(5 * time.Second):
		s.log.Warn("some request handlers did not return within 5s of shutdown")
	}
	for _, sess := range s.sessions {
		if c, ok := sess.transport.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
	s.bus.Publish(events.Event{Kind: events.Stopped, Addr: addr})
	s.log.Info("stopped", "addr", addr)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) shutdown(hs *http.Server) error {
	grace := s.cfg.Timeouts.Shutdown
	n := s.inFlight.Load()
	if n > 0 {
		s.log.Info("shutting down: waiting for in-flight requests", "in_flight", n, "grace", grace)
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		left := s.inFlight.Load()
		s.log.Warn("shutdown grace period over: cutting requests still in flight", "cut", left, "grace", grace)
		return hs.Close()
	}
	return err
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return port
}

// ReloadKeys re-reads the API keys (and the client token, when TokenName is set)
// from the key source, so that a key set or deleted elsewhere takes effect.
// It is the user's action on the keys (`clearway keys set`, the tray), so
// every key a pool set aside as refused gets another try, even one set to
// the same value again (credit added to the account).
func (s *Server) ReloadKeys() error {
	err := s.keys.reload(time.Now())
	if s.pools != nil {
		s.pools.forgiveRefused()
	}
	if terr := s.rereadToken(); terr != nil && err == nil {
		err = terr
	}
	if err != nil {
		s.bus.Publish(events.Event{Kind: events.KeychainError, Err: err.Error()})
		return err
	}
	s.bus.Publish(events.Event{Kind: events.KeysChanged})
	return nil
}

// rereadToken takes the client token from the key source again (when the
// server requires one and TokenName is set), so a rotated token takes
// effect. An empty or unreadable token leaves the current one; the error is
// the key source's.
func (s *Server) rereadToken() error {
	if s.tokName == "" || !s.guard.tokenRequired() || s.keySrc == nil {
		return nil
	}
	tok, err := s.keySrc.Get(s.tokName)
	if err == nil && tok != "" {
		s.guard.setToken(tok)
	}
	return err
}

// keyRefreshInterval is how often the keys are re-read from the keychain, so
// changes made outside clearway (Seahorse, secret-tool) and a keychain that
// comes back after a problem are picked up without a restart. Changes made
// with `clearway keys` reach the running proxy at once through
// /_clearway/keys/reload.
const keyRefreshInterval = 30 * time.Second

// refreshKeysEvery re-reads the keys every interval until ctx ends. It
// publishes an event only when the keychain starts or stops failing, so a
// lasting problem does not repeat itself.
func (s *Server) refreshKeysEvery(ctx context.Context, interval time.Duration) {
	if s.keySrc == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.keys.reload(time.Now())
		if err == nil {
			_ = s.rereadToken() // a token the keychain cannot give now stays as it was
		}
		switch {
		case err != nil && !failing:
			s.log.Warn("keychain: could not re-read the API keys; using the ones in memory", "err", err)
			s.bus.Publish(events.Event{Kind: events.KeychainError, Err: err.Error()})
		case err == nil && failing:
			s.log.Info("keychain answers again; keys re-read")
			s.bus.Publish(events.Event{Kind: events.KeysChanged})
		}
		failing = err != nil
	}
}
