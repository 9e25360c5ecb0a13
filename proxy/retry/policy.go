package retry

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults used when the matching Policy field is zero or negative.
const (
	// DefaultInitialDelay is the first backoff when Policy.InitialDelay is unset
	// (the official SDKs' 0.5 s).
	DefaultInitialDelay = 500 * time.Millisecond
	// DefaultMaxDelay caps the backoff when Policy.MaxDelay is unset (the SDKs' 8 s).
	DefaultMaxDelay = 8 * time.Second
	// DefaultMaxRetryAfter is the longest server-requested wait honoured when
	// Policy.MaxRetryAfter is unset. Clients such as Claude Code give up on a
	// longer Retry-After, so a longer wait is better passed straight to them.
	DefaultMaxRetryAfter = 60 * time.Second
)

// Policy says how many retries the proxy makes and how long it waits between
// them. The zero value allows no retries (one attempt) and uses the defaults
// above for its durations. A Policy is a plain value: safe for concurrent use
// as long as Jitter is.
type Policy struct {
	MaxRetries    int            // retries after the first attempt; 0 or less: none
	InitialDelay  time.Duration  // first backoff; 0 or less means DefaultInitialDelay
	MaxDelay      time.Duration  // cap on the computed backoff; 0 or less means DefaultMaxDelay
	MaxRetryAfter time.Duration  // longest server-requested wait honoured; 0 or less means DefaultMaxRetryAfter
	Jitter        func() float64 // returns [0,1); nil means math/rand/v2.Float64. Values outside [0,1) are clamped.
}

// Attempts is the number of upstream attempts the policy allows in all: the
// first one plus MaxRetries (at least 1).
func (p Policy) Attempts() int {
	if p.MaxRetries <= 0 {
		return 1
	}
	return p.MaxRetries + 1
}

func (p Policy) initialDelay() time.Duration {
	if p.InitialDelay <= 0 {
		return DefaultInitialDelay
	}
	return p.InitialDelay
}

func (p Policy) maxDelay() time.Duration {
	if p.MaxDelay <= 0 {
		return DefaultMaxDelay
	}
	return p.MaxDelay
}

func (p Policy) maxRetryAfter() time.Duration {
	if p.MaxRetryAfter <= 0 {
		return DefaultMaxRetryAfter
	}
	return p.MaxRetryAfter
}

func (p Policy) jitter() float64 {
	f := rand.Float64
	if p.Jitter != nil {
		f = p.Jitter
	}
	j := f()
	switch {
	case j >= 0 && j < 1:
		return j
	case j >= 1:
		return 1
	default: // negative or NaN
		return 0
	}
}

// Delay is the wait before retry number attempt (1 = the first retry; smaller
// values count as 1) after an answer classified as v, and a short reason for
// the log.
//
//   - When the server asked for a positive wait (v.HasAfter, v.After > 0), Delay
//     honours it exactly, without jitter, but never waits less than a quarter of
//     the initial delay: a server asking for 1 ms must not make the proxy hammer
//     it. The reason names the header and the wait asked for, e.g.
//     "retry-after 3s", "retry-after-ms 250ms",
//     "anthropic-ratelimit-requests-reset 12s", "x-ratelimit-reset-tokens 1.5s".
//   - A server wait of 0 (Cloudflare's rate-limit pages send "Retry-After: 0")
//     is not taken literally: the normal backoff applies, so the proxy still
//     backs off and doubles; the reason is then e.g. "retry-after 0s: backoff".
//   - Otherwise it is the exponential backoff InitialDelay*2^(attempt-1),
//     capped at MaxDelay, multiplied by (1 - 0.25*Jitter()) so concurrent
//     clients spread out; the reason is "backoff".
//
// Delay does not check v.TooLong or v.Retry: callers decide whether to retry
// first.
func (p Policy) Delay(attempt int, v Verdict) (time.Duration, string) {
	if v.HasAfter && v.After > 0 {
		d := v.After
		if floor := p.initialDelay() / 4; d < floor {
			d = floor
		}
		return d, waitReason(v)
	}
	d := p.backoff(attempt)
	if v.HasAfter {
		return d, waitReason(v) + ": backoff"
	}
	return d, "backoff"
}

// backoff is InitialDelay*2^(attempt-1) capped at MaxDelay, with jitter.
func (p Policy) backoff(attempt int) time.Duration {
	d, limit := p.initialDelay(), p.maxDelay()
	for i := 1; i < attempt && d < limit; i++ {
		if d > limit/2 { // doubling would pass the cap (or overflow)
			d = limit
			break
		}
		d *= 2
	}
	d = min(d, limit)
	f := float64(d) * (1 - 0.25*p.jitter())
	if f >= math.MaxInt64 { // float64(MaxInt64) rounds up: converting it back would overflow
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(f)
}

func waitReason(v Verdict) string {
	src := v.AfterSource
	if src == "" {
		src = "server wait"
	}
	return fmt.Sprintf("%s %s", src, v.After)
}
