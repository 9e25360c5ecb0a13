package seam

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limiter decides when a request may go to an upstream. The proxy calls
// Acquire once per client request, before the first attempt, and holds the
// slot through every retry until the answer is written. Implementations must
// be safe for concurrent use. Upstreams are named as in the config.
type Limiter interface {
	// Acquire waits for a slot for one request to upstream. On success the
	// caller must call release exactly once when the request is done (extra
	// calls must be harmless). Errors: a *Refused (errors.Is ErrRefused) when
	// the request would wait too long or must not go now, which the proxy
	// answers with 429 and Retry-After; ctx.Err() when the caller gave up.
	// Any other error is answered with 503 and logged.
	Acquire(ctx context.Context, upstream string) (release func(), err error)

	// Pause says the upstream told us to wait until until: a 429 or 503
	// with Retry-After (or a rate-limit reset header). key is the key name
	// the refused attempt used ("" when the whole upstream is meant or no
	// key was sent). The proxy calls it after any attempt whose answer
	// (status >= 400) carried a usable wait; the request's own retry wait is
	// handled by the retry loop either way.
	Pause(upstream, key string, until time.Time)

	// Charge records that a request to upstream made with key used tokens
	// (input + output, as the upstream reported them), for limiters that
	// budget tokens as well as requests. Called by whoever reads the usage
	// of an answer; the proxy's forward path does not read usage yet.
	Charge(upstream, key string, tokens int64)

	// Waiting returns how many requests to upstream are queued in Acquire
	// now (shown as queue_length in /_clearway/status); 0 when unknown.
	Waiting(upstream string) int
}

// KeyPauses is what a Limiter that learns of pauses from elsewhere (other
// instances sharing the budget) may also offer: until when a key of an
// upstream's pool is paused. The key pools ask it before they choose a key,
// so a key another instance was told to rest is not tried here only to be
// refused again. Implementations must be safe for concurrent use.
type KeyPauses interface {
	// PausedUntil returns when key may be used again (zero or a past time:
	// not paused as far as it knows).
	PausedUntil(upstream, key string) time.Time
}

// ErrRefused is matched (errors.Is) by every *Refused.
var ErrRefused = errors.New("throttle: queue full")

// Refused is the error a Limiter returns when it does not let a request go:
// why, and after how long it could be tried again.
type Refused struct {
	RetryAfter time.Duration
	// Reason is short and log-friendly: "rate", "concurrency" (the local
	// throttle), "paused" (the upstream asked to wait), "shared" (a budget
	// shared with other instances), ...
	Reason string
}

// Error says why and when to try again.
func (e *Refused) Error() string {
	return fmt.Sprintf("throttle: %s limit, try again in %s", e.Reason, e.RetryAfter.Round(time.Millisecond))
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *Refused) Is(target error) bool { return target == ErrRefused }

// NoLimit is a Limiter that lets every request through at once and ignores
// Pause and Charge. Its zero value is ready to use; safe for concurrent use.
type NoLimit struct{}

// Acquire returns at once with a no-op release.
func (NoLimit) Acquire(context.Context, string) (func(), error) { return func() {}, nil }

// Pause does nothing.
func (NoLimit) Pause(string, string, time.Time) {}

// Charge does nothing.
func (NoLimit) Charge(string, string, int64) {}

// Waiting returns 0.
func (NoLimit) Waiting(string) int { return 0 }
