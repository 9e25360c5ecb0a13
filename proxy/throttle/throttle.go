// Package throttle holds requests to one upstream to a rate (token bucket) and
// a number in flight, with a bounded wait: a request that would wait longer is
// refused at once with the time after which it could go.
package throttle

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/clearway/clearway/proxy/seam"
	"golang.org/x/time/rate"
)

// Settings configure a Limiter. Zero PerMinute or MaxConcurrent means no limit
// of that kind; zero MaxWait refuses any request that cannot go at once.
type Settings struct {
	PerMinute     float64
	Burst         int
	MaxConcurrent int
	MaxWait       time.Duration
}

// Clock is the time source a Limiter uses; tests replace it to avoid sleeping.
// It is seam.Clock.
type Clock = seam.Clock

// RealClock is the wall clock (seam.RealClock). Its zero value is ready to use.
type RealClock = seam.RealClock

// ErrQueueFull is matched (errors.Is) by the *Refused error Acquire returns when
// the wait would exceed MaxWait. It is seam.ErrRefused.
var ErrQueueFull = seam.ErrRefused

// Refused says a request was not let through and when it could be tried
// again (Reason "rate" or "concurrency"). It is seam.Refused.
type Refused = seam.Refused

// Limiter applies Settings to one upstream. One that limits nothing lets
// everything through. Build it with New; safe for concurrent use.
type Limiter struct {
	s       Settings
	clock   Clock
	bucket  *rate.Limiter // nil: no rate limit
	slots   chan struct{} // nil: no concurrency limit
	waiting atomic.Int64
	active  atomic.Int64
}

// New returns a Limiter for s (never nil; one that limits nothing when s sets
// no limit). clock nil means RealClock.
func New(s Settings, clock Clock) *Limiter {
	if clock == nil {
		clock = RealClock{}
	}
	l := &Limiter{s: s, clock: clock}
	if s.PerMinute > 0 {
		burst := max(s.Burst, 1)
		l.bucket = rate.NewLimiter(rate.Limit(s.PerMinute/60), burst)
	}
	if s.MaxConcurrent > 0 {
		l.slots = make(chan struct{}, s.MaxConcurrent)
	}
	return l
}

// Waiting returns how many requests are queued now.
func (l *Limiter) Waiting() int {
	return int(l.waiting.Load())
}

// Active returns how many requests hold a slot now.
func (l *Limiter) Active() int {
	return int(l.active.Load())
}

// Acquire waits for the request's turn: a rate token, then a concurrency slot,
// within MaxWait in all. On success the caller must call release exactly once
// when the request is done. Errors: *Refused (errors.Is ErrQueueFull) when the
// wait would be too long, or ctx.Err() when the caller gave up.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if l.bucket == nil && l.slots == nil {
		return func() {}, nil
	}
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	start := l.clock.Now()
	deadline := start.Add(l.s.MaxWait)
	if l.bucket != nil {
		r := l.bucket.ReserveN(start, 1)
		delay := r.DelayFrom(start)
		if !r.OK() || delay > l.s.MaxWait {
			r.CancelAt(start)
			return nil, &Refused{RetryAfter: delay, Reason: "rate"}
		}
		if delay > 0 {
			if err := l.clock.Sleep(ctx, delay); err != nil {
				r.CancelAt(l.clock.Now())
				return nil, err
			}
		}
	}
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		default:
			left := deadline.Sub(l.clock.Now())
			if left <= 0 {
				return nil, &Refused{RetryAfter: time.Second, Reason: "concurrency"}
			}
			wctx, cancel := context.WithCancel(ctx)
			got := make(chan error, 1)
			go func() { got <- l.clock.Sleep(wctx, left) }()
			select {
			case l.slots <- struct{}{}:
				cancel()
				<-got
			case err := <-got:
				cancel()
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				_ = err
				// One last chance: a slot may have freed as the wait ended.
				select {
				case l.slots <- struct{}{}:
				default:
					return nil, &Refused{RetryAfter: time.Second, Reason: "concurrency"}
				}
			}
		}
	}
	l.active.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.active.Add(-1)
			if l.slots != nil {
				<-l.slots
			}
		}
	}, nil
}
