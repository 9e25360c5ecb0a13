// Package breaker is the circuit breaker of one upstream: after a number of
// final failures in a row it opens, requests skip the upstream (to its
// fallbacks, or an immediate 503 with Retry-After) for a cooldown, then one
// probe request decides whether it closes again or stays open.
//
// It wraps github.com/sony/gobreaker/v2's TwoStepCircuitBreaker rather than
// hand-writing the state machine; this package only adds what the proxy
// needs around it: an off switch, the time left before the probe (for
// Retry-After), outcomes that count for neither side (a client that left),
// and state-change callbacks in clearway's terms. gobreaker reads the wall
// clock itself, so the cooldown is real time.
package breaker

import (
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// The states, as State and Change spell them.
const (
	Closed   = "closed"    // requests go to the upstream
	Open     = "open"      // requests skip the upstream until the cooldown ends
	HalfOpen = "half-open" // one probe request may go; the others still skip it
)

// Outcome is how a request the breaker allowed ended, as its done function
// is told. The zero value is Success.
type Outcome int

// The outcomes.
const (
	Success Outcome = iota // the upstream answered (any answer that is not a final failure)
	Failure                // a final failure: gave up on 429/5xx/Cloudflare, or unreachable
	Ignore                 // counts for neither side (the client left before the end)
)

// Change is one state change, given to the OnChange callback.
type Change struct {
	Name     string // the upstream
	From, To string // Closed, Open or HalfOpen
}

// Settings configure New.
type Settings struct {
	Name     string        // the upstream's name, carried into Change
	Failures int           // final failures in a row that open the breaker; 0 or less: no breaker
	Cooldown time.Duration // how long it stays open before a probe; 0 or less means 30 s
	// OnChange, if set, is called on every state change, synchronously from
	// the request that caused it (keep it quick: publish an event, log).
	OnChange func(Change)
}

// errFailure and errIgnored carry the outcome into gobreaker.
var (
	errFailure = errors.New("final failure")
	errIgnored = errors.New("ignored")
)

// Breaker is one upstream's circuit breaker. A nil *Breaker (what New returns
// for Failures <= 0) allows everything and never opens. Safe for concurrent use.
type Breaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	cooldown time.Duration

	mu       sync.Mutex
	openedAt time.Time
}

// New returns a breaker for s, or nil (a breaker that never opens) when
// s.Failures <= 0.
func New(s Settings) *Breaker {
	if s.Failures <= 0 {
		return nil
	}
	if s.Cooldown <= 0 {
		s.Cooldown = 30 * time.Second
	}
	b := &Breaker{cooldown: s.Cooldown}
	failures := uint32(s.Failures)
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        s.Name,
		MaxRequests: 1, // one probe decides
		Timeout:     s.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errIgnored) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.mu.Lock()
				b.openedAt = time.Now()
				b.mu.Unlock()
			}
			if s.OnChange != nil {
				s.OnChange(Change{Name: name, From: stateName(from), To: stateName(to)})
			}
		},
	})
	return b
}

// Allow asks whether a request may go to the upstream now. When it may, done
// must be called exactly once with how it ended. When it may not (open, or
// half-open with its probe already out), allowed is false and retryAfter is
// how long until a probe may go (at least one second).
func (b *Breaker) Allow() (done func(Outcome), retryAfter time.Duration, allowed bool) {
	if b == nil {
		return func(Outcome) {}, 0, true
	}
	d, err := b.cb.Allow()
	if err != nil {
		return nil, b.retryAfter(), false
	}
	var once sync.Once
	return func(o Outcome) {
		once.Do(func() {
			switch o {
			case Failure:
				d(errFailure)
			case Ignore:
				d(errIgnored)
			default:
				d(nil)
			}
		})
	}, 0, true
}

// retryAfter is the time left in the open state, rounded up to whole
// seconds as Retry-After needs, and at least 1 s.
func (b *Breaker) retryAfter() time.Duration {
	b.mu.Lock()
	left := b.cooldown - time.Since(b.openedAt)
	b.mu.Unlock()
	left = (left + time.Second - 1).Truncate(time.Second)
	return max(left, time.Second)
}

// State returns Closed, Open or HalfOpen (Closed for a nil breaker).
func (b *Breaker) State() string {
	if b == nil {
		return Closed
	}
	return stateName(b.cb.State())
}

func stateName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return Open
	case gobreaker.StateHalfOpen:
		return HalfOpen
	default:
		return Closed
	}
}
