package shared

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/throttle"
)

// Defaults for Options left zero.
const (
	DefaultTimeout = 45 * time.Millisecond // one Redis call on a request's path; with scheduling slack a request never waits 50 ms on Redis
	DefaultLease   = 15 * time.Second      // a concurrency slot outlives a vanished holder by at most this
	// reconnectEvery is how often a degraded Client tries Redis again.
	reconnectEvery = time.Second
	// backgroundTimeout bounds the Redis calls no request waits on
	// (reconnect, heartbeat, listing the instances for status).
	backgroundTimeout = time.Second
)

// Options configure a Client. URL and Namespace are required.
type Options struct {
	URL       string           // redis://[:PASSWORD@]HOST:PORT/DB or rediss://..., password already expanded
	Namespace string           // the team's name; instances of one namespace share everything
	User      string           // shown to teammates in status (default: $USER)
	Version   string           // clearway's version, shown to teammates
	Timeout   time.Duration    // longest one Redis call on a request's path may take (default DefaultTimeout)
	Lease     time.Duration    // concurrency lease, renewed while held (default DefaultLease)
	Logger    *slog.Logger     // nil: slog.Default()
	OnChange  func(State)      // called on each connected/degraded change, from a background goroutine
	InFlight  func() int64     // this instance's requests in flight, for its record (nil: 0)
	RootCAs   *x509.CertPool   // trust for rediss:// (nil: the system roots)
	Clock     throttle.Clock   // waits between tries (nil: the wall clock)
	Now       func() time.Time // nil: time.Now
}

// State says whether the limits are shared right now.
type State struct {
	Connected bool      `json:"connected"`
	Why       string    `json:"why,omitempty"` // why not, when degraded
	Since     time.Time `json:"since"`
}

// String is "connected" or "degraded (why)".
func (s State) String() string {
	if s.Connected {
		return "connected"
	}
	return "degraded (" + s.Why + ")"
}

// Client is one clearway instance's connection to the team's Redis. Build it
// with Open, hand its Limiters to the proxy, Close it on shutdown. Safe for
// concurrent use.
type Client struct {
	opts     Options
	prefix   string
	id       string
	rdb      *redis.Client
	rate     *redis_rate.Limiter
	log      *slog.Logger
	clock    throttle.Clock
	now      func() time.Time
	started  time.Time
	redacted string

	ro         *redis.Options // the connection's options, used by Start
	running    atomic.Bool    // Start was called
	connected  atomic.Bool
	slow       atomic.Int32  // calls timed out in a row
	localTurns atomic.Uint64 // requests let through on the local limits
	mu         sync.Mutex
	state      State
	leases     map[string]map[string]struct{} // sem key -> held lease ids, renewed by the heartbeat
	team       []Instance                     // the live instances, as last listed by the heartbeat
	seq        atomic.Uint64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Open is New then Start.
func Open(opts Options) (*Client, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	c.Start()
	return c, nil
}

// New builds a Client without touching the network: until Start it is
// degraded ("not started") and its Limiters use their local limits. The
// error is for a URL that cannot work.
func New(opts Options) (*Client, error) {
	quietOnce.Do(func() { redis.SetLogger(quiet{}) })
	if err := CheckURL(opts.URL); err != nil {
		return nil, fmt.Errorf("shared.redis %s: %w", Redact(opts.URL), err)
	}
	if opts.Namespace == "" {
		return nil, errors.New("shared.namespace: is required")
	}
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("shared.redis %s: %w", Redact(opts.URL), err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.User == "" {
		opts.User = os.Getenv("USER")
	}
	if ro.TLSConfig != nil {
		host, _, _ := net.SplitHostPort(ro.Addr)
		ro.TLSConfig = tlsConfig(host, opts.RootCAs)
	}
	// Every call carries its own deadline (the request path's 50 ms, or a
	// second in the background) and is never retried: a retry would be a
	// second wait on a Redis that just failed.
	ro.ContextTimeoutEnabled = true
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	ro.DialTimeout = backgroundTimeout
	ro.ReadTimeout = backgroundTimeout
	ro.WriteTimeout = backgroundTimeout
	ro.PoolTimeout = opts.Timeout
	// A few warm connections, and few in all: a burst of requests queues
	// for a connection (bounded by Timeout) instead of dialling dozens at
	// once, which under load would itself take longer than Timeout.
	ro.PoolSize = 8
	ro.MinIdleConns = 2
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c := &Client{
		opts:     opts,
		prefix:   "clearway:" + opts.Namespace + ":",
		id:       randomID(),
		log:      opts.Logger,
		clock:    opts.Clock,
		now:      opts.Now,
		redacted: Redact(opts.URL),
		leases:   map[string]map[string]struct{}{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.clock == nil {
		c.clock = throttle.RealClock{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.started = c.now()
	c.ro = ro
	c.state = State{Why: "not started", Since: c.started}
	return c, nil
}

// Start connects: it tries Redis once (within a second) and starts the
// background loop. An unreachable Redis or a wrong password is not an
// error: the Client stays degraded, says why (log, OnChange), and keeps
// trying. Start is called once, before Close; later calls do nothing.
func (c *Client) Start() {
	if !c.running.CompareAndSwap(false, true) {
		return
	}
	c.rdb = redis.NewClient(c.ro)
	c.rate = redis_rate.NewLimiter(c.rdb)
	c.mu.Lock()
	c.state.Why = "not tried yet"
	c.mu.Unlock()
	if err := c.tryConnect(); err != nil {
		c.setDegraded(err)
	} else {
		c.connected.Store(true)
		c.state = State{Connected: true, Since: c.now()}
		c.log.Info("shared limits: connected to Redis; limits are shared with the team", "redis", c.redacted, "namespace", c.opts.Namespace, "instance", c.id)
		c.listTeam()
	}
	go c.loop()
}

// ID is this instance's random id in Redis.
func (c *Client) ID() string { return c.id }

// Namespace is the team's namespace.
func (c *Client) Namespace() string { return c.opts.Namespace }

// URL is the Redis URL with its password hidden.
func (c *Client) URL() string { return c.redacted }

// State returns whether the limits are shared now and, if not, why.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Status is what status output shows of the shared limits (api.SharedStatus).
type Status = api.SharedStatus

// Status returns the shared limits' state and the team's live instances as
// the heartbeat last listed them; it never waits on Redis.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Status{State: "degraded", Why: c.state.Why, Since: c.state.Since, Redis: c.redacted,
		Namespace: c.opts.Namespace, Instance: c.id, Instances: append([]Instance{}, c.team...), LocalTurns: c.localTurns.Load()}
	if c.state.Connected {
		st.State, st.Why = "connected", ""
	}
	return st
}

// listTeam refreshes the list of live instances Status shows.
func (c *Client) listTeam() {
	list, err := c.Instances(context.Background())
	if err != nil {
		return
	}
	c.mu.Lock()
	c.team = list
	c.mu.Unlock()
}

// Close stops the background loop, removes this instance's record and
// leases from Redis (best effort, within a second) and closes the connection.
func (c *Client) Close() error {
	if !c.running.Load() {
		return nil // never started: nothing to stop or close
	}
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		if c.connected.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
			pipe := c.rdb.Pipeline()
			pipe.Del(ctx, c.prefix+"instance:"+c.id)
			pipe.SRem(ctx, c.prefix+"instances", c.id)
			c.mu.Lock()
			for key, ids := range c.leases {
				for id := range ids {
					pipe.ZRem(ctx, key, id)
				}
			}
			c.mu.Unlock()
			_, _ = pipe.Exec(ctx)
			cancel()
		}
	})
	return c.rdb.Close()
}

// loop reconnects while degraded and, while connected, keeps this
// instance's record and leases alive.
func (c *Client) loop() {
	defer close(c.done)
	beat := min(c.opts.Lease/3, 2*time.Second)
	t := time.NewTicker(min(beat, reconnectEvery))
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if !c.connected.Load() {
			if err := c.tryConnect(); err != nil {
				c.noteStillDown(err)
				continue
			}
			c.setConnected()
			c.listTeam()
			last = time.Now()
			continue
		}
		if time.Since(last) < beat {
			continue
		}
		last = time.Now()
		if err := c.heartbeat(); err != nil {
			c.setDegraded(err)
			continue
		}
		c.listTeam()
	}
}

// tryConnect pings Redis (authenticating on a new connection) and writes
// this instance's record.
func (c *Client) tryConnect() error {
	ctx, cancel := context.WithTimeout(context.Background(), backgroundTimeout)
	defer cancel()
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	return c.heartbeatCtx(ctx)
}

// slowLimit is how many calls in a row may time out before the Client
// turns degraded. Each of them costs its request at most Timeout and that
// request goes on under the local limits; a lone slow answer (a busy
// moment on a loaded machine) does not switch the whole instance over.
const slowLimit = 3

// failed notes a failed call on a request's path (err is never a caller's
// cancellation): a refused connection or password turns the Client
// degraded at once, a timeout after slowLimit in a row.
func (c *Client) failed(err error) {
	var ne net.Error
	if (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) && c.slow.Add(1) < slowLimit {
		return
	}
	c.setDegraded(err)
}

func (c *Client) setDegraded(err error) {
	why := describe(err, c.opts.Timeout)
	c.mu.Lock()
	was := c.connected.Swap(false)
	first := c.state.Why == "not tried yet"
	if !was && !first {
		c.mu.Unlock()
		return
	}
	c.state = State{Why: why, Since: c.now()}
	st := c.state
	c.mu.Unlock()
	c.log.Warn("shared limits: Redis unavailable, using this instance's local limits until it is back", "redis", c.redacted, "namespace", c.opts.Namespace, "why", why)
	if c.opts.OnChange != nil {
		c.opts.OnChange(st)
	}
}

// noteStillDown updates the reason while degraded (wrong password now
// instead of unreachable, say) without notifying again.
func (c *Client) noteStillDown(err error) {
	why := describe(err, backgroundTimeout)
	c.mu.Lock()
	if !c.state.Connected && c.state.Why != why {
		c.state.Why = why
	}
	c.mu.Unlock()
}

func (c *Client) setConnected() {
	c.mu.Lock()
	c.slow.Store(0)
	c.connected.Store(true)
	c.state = State{Connected: true, Since: c.now()}
	st := c.state
	c.mu.Unlock()
	c.log.Info("shared limits: connected to Redis; limits are shared with the team again", "redis", c.redacted, "namespace", c.opts.Namespace)
	if c.opts.OnChange != nil {
		c.opts.OnChange(st)
	}
}

// describe says why a Redis call failed, in words for status and
// notifications. go-redis errors never carry the password.
func describe(err error, timeout time.Duration) string {
	msg := err.Error()
	var ne net.Error
	switch {
	case strings.Contains(msg, "WRONGPASS"), strings.Contains(msg, "NOAUTH"), strings.Contains(msg, "invalid password"):
		return "Redis refused the password (" + firstLine(msg) + ")"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "Redis did not answer within " + timeout.String()
	case strings.Contains(msg, "connection refused"):
		return "Redis unreachable: connection refused"
	}
	return "Redis error: " + firstLine(msg)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// quiet drops go-redis's own log lines (dial failures while Redis is
// down): the Client says what matters once, through its Logger.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

var quietOnce sync.Once

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// call runs f with the request-path timeout. ok is false when Redis is not
// in use (degraded) or failed; a failure turns the Client degraded. A
// cancelled caller is not Redis's fault: that is reported as ctx's error.
func (c *Client) call(ctx context.Context, f func(ctx context.Context) error) (ok bool, err error) {
	if !c.connected.Load() {
		return false, nil
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	if err := f(cctx); err != nil && !errors.Is(err, redis.Nil) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		c.failed(err)
		return false, nil
	}
	c.slow.Store(0)
	return true, nil
}
