package shared

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/clearway/clearway/proxy/throttle"
)

// Settings are one upstream's limits, as in its throttle block. The zero
// value limits nothing.
type Settings struct {
	throttle.Settings
	TokensPerMinute float64 // token budget charged from reported usage; 0: none
}

// Local is the limiter used while Redis is unavailable: this instance's own
// limits (a *throttle.Limiter, whose nil value lets everything through).
type Local interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// pollEvery is how often a request waiting for a concurrency slot asks again.
const pollEvery = 50 * time.Millisecond

// Limiter holds requests to one upstream to the team's shared limits while
// its Client is connected, and to Local otherwise. Safe for concurrent use.
type Limiter struct {
	c        *Client
	upstream string
	s        Settings
	local    Local
	pool     []string // the upstream's key pool when it has more than one key: a key's pause holds only that key
	limit    redis_rate.Limit
	rateKey  string // redis_rate adds its own "rate:" prefix
	semKey   string
	tokKey   string

	rateGate chan struct{} // one waiter per instance asks for a rate token at a time
	slotGate chan struct{} // and for a concurrency slot

	mu      sync.Mutex
	reading *pauseRead           // the pause read in flight, shared by every request that asks meanwhile
	paused  map[string]time.Time // "" (the whole upstream) or key name -> no request before
	tokTAT  float64              // local token budget: theoretical arrival time, unix ms

	waiting   atomic.Int64
	active    atomic.Int64
	rateQueue atomic.Int64 // requests queued for a rate token
	slotQueue atomic.Int64 // requests queued for a concurrency slot
}

// Limiter returns the shared limiter of upstream, falling back to local
// (nil: no local limits). pool is the upstream's key pool; with more than
// one key, a pause of one key holds requests only while every key is paused.
func (c *Client) Limiter(upstream string, s Settings, local Local, pool ...string) *Limiter {
	l := &Limiter{
		c:        c,
		upstream: upstream,
		s:        s,
		local:    local,
		rateKey:  c.prefix[len("clearway:"):] + upstream, // stored as rate:<namespace>:<upstream>
		semKey:   c.prefix + "sem:" + upstream,
		tokKey:   c.prefix + "tokens:" + upstream,
		rateGate: make(chan struct{}, 1),
		slotGate: make(chan struct{}, 1),
		paused:   map[string]time.Time{},
	}
	if len(pool) > 1 {
		l.pool = append([]string(nil), pool...)
	}
	if s.PerMinute > 0 {
		l.limit = rateLimit(s.PerMinute, max(s.Burst, 1))
	}
	return l
}

// rateLimit turns a per-minute rate into redis_rate's integer Limit: whole
// rates as they are, fractional ones scaled over a longer period (the GCRA
// interval, period/rate, is what counts).
func rateLimit(perMinute float64, burst int) redis_rate.Limit {
	if perMinute == math.Trunc(perMinute) && perMinute < 1e9 {
		return redis_rate.Limit{Rate: int(perMinute), Burst: burst, Period: time.Minute}
	}
	return redis_rate.Limit{Rate: int(math.Round(perMinute * 1000)), Burst: burst, Period: 1000 * time.Minute}
}

// Waiting is how many requests wait for their turn now.
func (l *Limiter) Waiting() int { return int(l.waiting.Load()) }

// Active is how many requests hold a turn now.
func (l *Limiter) Active() int { return int(l.active.Load()) }

// Acquire waits for a request's turn to the upstream: no pause in force, the token budget not
// overdrawn, a rate token, then a concurrency slot, within MaxWait in all. On
// success the caller must call release once when the request is done.
// Errors: *throttle.Refused (errors.Is throttle.ErrQueueFull) when the wait
// would be too long, or ctx.Err() when the caller gave up. A Redis failure
// is never an error: the request goes on under the local limits.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	deadline := l.c.clock.Now().Add(l.s.MaxWait)
	// shared turns false at the first Redis call that fails: the rest of
	// this request's turn is taken locally, without asking Redis again.
	shared := l.c.connected.Load()
	if err := l.waitPause(ctx, deadline, &shared); err != nil {
		return nil, err
	}
	if err := l.waitTokens(ctx, deadline, &shared); err != nil {
		return nil, err
	}
	if shared {
		ok, err := l.takeRate(ctx, deadline)
		if err != nil {
			return nil, err
		}
		if ok {
			rel, ok, err := l.takeSlot(ctx, deadline)
			if err != nil {
				return nil, err
			}
			if ok {
				return l.hold(rel), nil
			}
		}
	}
	// Redis is unavailable (or just failed): this instance's own limits.
	l.c.localTurns.Add(1)
	if l.local == nil {
		return l.hold(func() {}), nil
	}
	rel, err := l.local.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return l.hold(rel), nil
}

func (l *Limiter) hold(rel func()) func() {
	l.active.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.active.Add(-1)
			rel()
		}
	}
}

// refuse builds the refusal of a wait that would end after deadline.
func refuse(reason string, wait time.Duration) error {
	return &throttle.Refused{RetryAfter: max(wait, time.Millisecond), Reason: reason}
}

// Pause says no request may go to the upstream before until, for every
// instance of the team: the upstream asked for the wait (Retry-After, a
// reset header, a Cloudflare 1015). key is the key the refused request
// used: with a pool of several keys only that key is paused (requests wait
// while every key is); otherwise the whole upstream is. A later until
// extends a pause; an earlier one changes nothing.
func (l *Limiter) Pause(key string, until time.Time) {
	if !l.pooled(key) {
		key = ""
	}
	l.mu.Lock()
	if until.After(l.paused[key]) {
		l.paused[key] = until
	}
	l.mu.Unlock()
	d := until.Sub(l.c.clock.Now())
	if d <= 0 {
		return
	}
	_, _ = l.c.call(context.Background(), func(ctx context.Context) error {
		return pauseScript.Run(ctx, l.c.rdb, []string{l.pauseKey(key)}, d.Milliseconds()+1).Err()
	})
}

func (l *Limiter) pooled(key string) bool {
	for _, k := range l.pool {
		if k == key && key != "" {
			return true
		}
	}
	return false
}

func (l *Limiter) pauseKey(key string) string {
	if key == "" {
		return l.c.prefix + "pause:" + l.upstream
	}
	return l.c.prefix + "pause:" + l.upstream + ":" + key
}

// pausedFor is how long from now no request may go (0: none), as this
// instance knows it and as Redis says: the upstream's pause, or with a key
// pool the shortest of the keys' pauses, whichever is longer.
func (l *Limiter) pausedFor(ctx context.Context, shared *bool) (time.Duration, error) {
	keys := make([]string, 1, 1+len(l.pool))
	keys[0] = l.pauseKey("")
	for _, k := range l.pool {
		keys = append(keys, l.pauseKey(k))
	}
	ms, err := l.readPause(ctx, keys, shared)
	if err != nil {
		return 0, err
	}
	now := l.c.clock.Now()
	l.mu.Lock()
	// What Redis holds is what every instance was told: it joins this
	// instance's own pauses (PTTL is whole milliseconds, rounded down:
	// one more), so the key pool learns which keys rest (PausedUntil).
	for i, m := range ms {
		if m <= 0 || i > len(l.pool) {
			continue
		}
		name := ""
		if i > 0 {
			name = l.pool[i-1]
		}
		if until := now.Add(time.Duration(m+1) * time.Millisecond); until.After(l.paused[name]) {
			l.paused[name] = until
		}
	}
	until := l.paused[""]
	if len(l.pool) > 0 {
		soonest := l.paused[l.pool[0]]
		for _, k := range l.pool[1:] {
			if t := l.paused[k]; t.Before(soonest) {
				soonest = t
			}
		}
		if soonest.After(until) {
			until = soonest
		}
	}
	l.mu.Unlock()
	return max(until.Sub(now), 0), nil
}

// PausedUntil returns until when key (one of the pool's) is paused, by this
// instance or, as of the last read of Redis, by any; the whole upstream's
// pause counts for every key. Zero: not paused.
func (l *Limiter) PausedUntil(key string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	until := l.paused[""]
	if t := l.paused[key]; key != "" && t.After(until) {
		until = t
	}
	return until
}

// pauseRead is one read of the pauses in Redis, which the requests that
// arrive while it runs share: a burst of requests costs Redis one read, not
// one each.
type pauseRead struct {
	done chan struct{}
	ms   []int64
	ok   bool // Redis answered
}

// readPause returns the pauses Redis holds for keys, in ms each (0: none;
// nil when Redis is unavailable).
func (l *Limiter) readPause(ctx context.Context, keys []string, shared *bool) ([]int64, error) {
	if !*shared {
		return nil, nil
	}
	l.mu.Lock()
	if r := l.reading; r != nil {
		l.mu.Unlock()
		select {
		case <-r.done:
			*shared = *shared && r.ok
			return r.ms, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	r := &pauseRead{done: make(chan struct{})}
	l.reading = r
	l.mu.Unlock()
	// The read is shared: it must not end because this caller left.
	r.ok, _ = l.c.call(context.WithoutCancel(ctx), func(ctx context.Context) error {
		var err error
		r.ms, err = pausedScript.Run(ctx, l.c.rdb, keys).Int64Slice()
		return err
	})
	*shared = *shared && r.ok
	l.mu.Lock()
	l.reading = nil
	l.mu.Unlock()
	close(r.done)
	return r.ms, ctx.Err()
}

func (l *Limiter) waitPause(ctx context.Context, deadline time.Time, shared *bool) error {
	for {
		wait, err := l.pausedFor(ctx, shared)
		if err != nil || wait <= 0 {
			return err
		}
		if l.c.clock.Now().Add(wait).After(deadline) {
			return refuse("paused", wait)
		}
		if err := l.c.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// takeRate takes a token of the shared request budget, waiting for it
// within deadline. ok is false when Redis became unavailable. A request
// asks Redis at once; when it must wait, it queues behind this instance's
// other waiters, and only the head of the queue asks again, so waiters go in
// order and a queue costs Redis one call per interval.
func (l *Limiter) takeRate(ctx context.Context, deadline time.Time) (ok bool, err error) {
	if l.s.PerMinute <= 0 {
		return true, nil
	}
	if l.rateQueue.Load() == 0 {
		allowed, wait, ok, err := l.allow(ctx)
		if !ok || allowed {
			return ok && allowed, err
		}
		if l.c.clock.Now().Add(wait).After(deadline) {
			return false, refuse("rate", wait)
		}
	}
	l.rateQueue.Add(1)
	defer l.rateQueue.Add(-1)
	if err := l.enter(ctx, l.rateGate, deadline, "rate"); err != nil {
		return false, err
	}
	defer func() { <-l.rateGate }()
	for {
		allowed, wait, ok, err := l.allow(ctx)
		if !ok || allowed {
			return ok && allowed, err
		}
		if l.c.clock.Now().Add(wait).After(deadline) {
			return false, refuse("rate", wait)
		}
		if err := l.c.clock.Sleep(ctx, wait); err != nil {
			return false, err
		}
	}
}

// allow asks redis_rate for one token: allowed, or the wait before the
// next; ok is false when Redis became unavailable.
func (l *Limiter) allow(ctx context.Context) (allowed bool, wait time.Duration, ok bool, err error) {
	var res *redis_rate.Result
	ok, err = l.c.call(ctx, func(ctx context.Context) error {
		var err error
		res, err = l.c.rate.Allow(ctx, l.rateKey, l.limit)
		return err
	})
	if !ok {
		return false, 0, false, err
	}
	return res.Allowed > 0, res.RetryAfter, true, nil
}

// enter waits for the instance's turn to ask Redis, within deadline.
func (l *Limiter) enter(ctx context.Context, gate chan struct{}, deadline time.Time, reason string) error {
	select {
	case gate <- struct{}{}:
		return nil
	default:
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	select {
	case gate <- struct{}{}:
		return nil
	case <-wctx.Done():
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := time.Second
		if reason == "rate" && l.s.PerMinute > 0 {
			wait = time.Duration(float64(time.Minute) / l.s.PerMinute * float64(l.waiting.Load()))
		}
		return refuse(reason, wait)
	}
}

// takeSlot takes a lease on one of the shared concurrency slots, waiting
// for one within deadline. ok is false when Redis became unavailable.
func (l *Limiter) takeSlot(ctx context.Context, deadline time.Time) (release func(), ok bool, err error) {
	if l.s.MaxConcurrent <= 0 {
		return func() {}, true, nil
	}
	id := l.c.id + ":" + strconv.FormatUint(l.c.seq.Add(1), 10)
	got, ok, err := false, false, error(nil)
	if l.slotQueue.Load() == 0 {
		if got, ok, err = l.lease(ctx, id); !ok {
			return nil, false, err
		}
		if !got && !deadline.After(l.c.clock.Now()) {
			return nil, false, refuse("concurrency", time.Second)
		}
	}
	if !got {
		l.slotQueue.Add(1)
		defer l.slotQueue.Add(-1)
		if err := l.enter(ctx, l.slotGate, deadline, "concurrency"); err != nil {
			return nil, false, err
		}
		defer func() { <-l.slotGate }()
		for {
			if got, ok, err = l.lease(ctx, id); !ok {
				return nil, false, err
			}
			if got {
				break
			}
			left := deadline.Sub(l.c.clock.Now())
			if left <= 0 {
				return nil, false, refuse("concurrency", time.Second)
			}
			if err := l.c.clock.Sleep(ctx, min(left, pollEvery)); err != nil {
				return nil, false, err
			}
		}
	}
	l.c.mu.Lock()
	if l.c.leases[l.semKey] == nil {
		l.c.leases[l.semKey] = map[string]struct{}{}
	}
	l.c.leases[l.semKey][id] = struct{}{}
	l.c.mu.Unlock()
	return func() {
		l.c.mu.Lock()
		delete(l.c.leases[l.semKey], id)
		l.c.mu.Unlock()
		_, _ = l.c.call(context.Background(), func(ctx context.Context) error {
			return l.c.rdb.ZRem(ctx, l.semKey, id).Err()
		})
	}, true, nil
}

// lease asks Redis for a concurrency lease named id: got it or not; ok is
// false when Redis became unavailable.
func (l *Limiter) lease(ctx context.Context, id string) (got, ok bool, err error) {
	var n int64
	ok, err = l.c.call(ctx, func(ctx context.Context) error {
		var err error
		n, err = semScript.Run(ctx, l.c.rdb, []string{l.semKey}, l.s.MaxConcurrent, id, l.c.opts.Lease.Milliseconds()).Int64()
		return err
	})
	return n == 1, ok, err
}

// Charge spends tokens (input plus output, as the answer reported them)
// from the token budget. Without tokens_per_minute it does nothing.
func (l *Limiter) Charge(tokens int) {
	if l.s.TokensPerMinute <= 0 || tokens <= 0 {
		return
	}
	interval := 60000 / l.s.TokensPerMinute // ms per token
	now := float64(l.c.clock.Now().UnixMicro()) / 1000
	l.mu.Lock()
	l.tokTAT = math.Max(l.tokTAT, now) + float64(tokens)*interval
	l.mu.Unlock()
	_, _ = l.c.call(context.Background(), func(ctx context.Context) error {
		return tokensScript.Run(ctx, l.c.rdb, []string{l.tokKey}, "charge", strconv.FormatFloat(interval, 'f', -1, 64), tokens).Err()
	})
}

// tokenDebt is how long until the token budget is no longer overdrawn (0:
// it is not). The budget's burst is one minute's worth.
func (l *Limiter) tokenDebt(ctx context.Context, shared *bool) (time.Duration, error) {
	interval := 60000 / l.s.TokensPerMinute
	if *shared {
		var ms int64
		ok, err := l.c.call(ctx, func(ctx context.Context) error {
			var err error
			ms, err = tokensScript.Run(ctx, l.c.rdb, []string{l.tokKey}, "check", strconv.FormatFloat(interval, 'f', -1, 64), 0).Int64()
			return err
		})
		if err != nil {
			return 0, err
		}
		if ok {
			return time.Duration(ms) * time.Millisecond, nil
		}
		*shared = false
	}
	now := float64(l.c.clock.Now().UnixMicro()) / 1000
	l.mu.Lock()
	debt := l.tokTAT - now - 60000
	l.mu.Unlock()
	return time.Duration(math.Max(debt, 0) * float64(time.Millisecond)), nil
}

func (l *Limiter) waitTokens(ctx context.Context, deadline time.Time, shared *bool) error {
	if l.s.TokensPerMinute <= 0 {
		return nil
	}
	for {
		wait, err := l.tokenDebt(ctx, shared)
		if err != nil || wait <= 0 {
			return err
		}
		if l.c.clock.Now().Add(wait).After(deadline) {
			return refuse("tokens", wait)
		}
		if err := l.c.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// semScript takes a lease (ARGV[2], for ARGV[3] ms) when fewer than ARGV[1]
// unexpired leases are held; 1 if taken, 0 if full. Expiry uses Redis's
// clock, so laptops' clocks do not matter.
var semScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
  return 1
end
return 0
`)

// pauseScript pauses for ARGV[1] ms unless a longer pause is in force.
var pauseScript = redis.NewScript(`
local cur = redis.call('PTTL', KEYS[1])
if cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
`)

// pausedScript returns the remaining pause in ms (0: none) of each of KEYS,
// in order: the upstream's, then each key of its pool.
var pausedScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS do
  local ms = redis.call('PTTL', KEYS[i])
  if ms < 0 then ms = 0 end
  out[i] = ms
end
return out
`)

// tokensScript is GCRA with debt for the token budget, on Redis's clock:
// "charge" moves the theoretical arrival time on by ARGV[3] tokens of
// ARGV[2] ms each, allowed or not (the tokens are already spent); "check"
// returns the ms until the budget (one minute's worth) is no longer overdrawn.
var tokensScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if ARGV[1] == 'charge' then
  tat = tat + tonumber(ARGV[2]) * tonumber(ARGV[3])
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
  return 0
end
local debt = tat - now - 60000
if debt <= 0 then return 0 end
return math.ceil(debt)
`)
