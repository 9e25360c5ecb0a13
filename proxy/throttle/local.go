package throttle

import (
	"context"
	"time"

	"github.com/clearway/clearway/proxy/seam"
)

// Local is the default seam.Limiter: one Limiter per upstream, in this
// process only. Upstreams it was not given are not limited. Pause and Charge
// do nothing: the local throttle counts requests, and an upstream's own
// Retry-After is honoured by the retry loop of the request that got it.
// Build it with NewLocal; safe for concurrent use (the map is read-only after
// NewLocal).
type Local struct {
	limiters map[string]*Limiter
}

var _ seam.Limiter = (*Local)(nil)

// NewLocal returns a Local applying settings[upstream] to each upstream.
// clock nil means RealClock.
func NewLocal(settings map[string]Settings, clock Clock) *Local {
	l := &Local{limiters: make(map[string]*Limiter, len(settings))}
	for name, s := range settings {
		l.limiters[name] = New(s, clock)
	}
	return l
}

// Acquire waits for upstream's turn (see Limiter.Acquire).
func (l *Local) Acquire(ctx context.Context, upstream string) (func(), error) {
	lim, ok := l.limiters[upstream]
	if !ok {
		return func() {}, nil
	}
	return lim.Acquire(ctx)
}

// Pause does nothing (see Local).
func (l *Local) Pause(string, string, time.Time) {}

// Charge does nothing (see Local).
func (l *Local) Charge(string, string, int64) {}

// Waiting returns how many requests to upstream are queued now.
func (l *Local) Waiting(upstream string) int {
	if lim, ok := l.limiters[upstream]; ok {
		return lim.Waiting()
	}
	return 0
}
