package shared

import (
	"context"
	"time"

	"github.com/clearway/clearway/proxy/seam"
	"github.com/clearway/clearway/proxy/throttle"
)

// Upstream is what Limiters needs to know of one upstream: its limits and
// its key pool.
type Upstream struct {
	Settings Settings
	Keys     []string // the key pool (a pause of one of several keys holds only that key)
}

// Limiters is the proxy's seam.Limiter when limits are shared: one shared
// Limiter per upstream, each over the upstream's local throttle for when
// Redis is unavailable. Every upstream shares its pauses, even one without
// a throttle. Safe for concurrent use.
type Limiters struct {
	c  *Client
	by map[string]*Limiter
}

var (
	_ seam.Limiter   = (*Limiters)(nil)
	_ seam.KeyPauses = (*Limiters)(nil)
)

// Limiters returns the seam.Limiter of upstreams (by name) on this Client.
func (c *Client) Limiters(upstreams map[string]Upstream) *Limiters {
	ls := &Limiters{c: c, by: make(map[string]*Limiter, len(upstreams))}
	for name, u := range upstreams {
		ls.by[name] = c.Limiter(name, u.Settings, throttle.New(u.Settings.Settings, c.clock), u.Keys...)
	}
	return ls
}

// Client returns the Client the limiters share.
func (ls *Limiters) Client() *Client { return ls.c }

// Acquire implements seam.Limiter. An upstream it was not built with is not
// limited.
func (ls *Limiters) Acquire(ctx context.Context, upstream string) (func(), error) {
	l := ls.by[upstream]
	if l == nil {
		return func() {}, nil
	}
	return l.Acquire(ctx)
}

// Pause implements seam.Limiter.
func (ls *Limiters) Pause(upstream, key string, until time.Time) {
	if l := ls.by[upstream]; l != nil {
		l.Pause(key, until)
	}
}

// PausedUntil implements seam.KeyPauses: until when key of upstream's pool
// is paused, here or (as of this instance's last read of Redis) by any
// instance of the team.
func (ls *Limiters) PausedUntil(upstream, key string) time.Time {
	if l := ls.by[upstream]; l != nil {
		return l.PausedUntil(key)
	}
	return time.Time{}
}

// Charge implements seam.Limiter.
func (ls *Limiters) Charge(upstream, _ string, tokens int64) {
	if l := ls.by[upstream]; l != nil {
		l.Charge(int(min(tokens, 1<<31-1)))
	}
}

// Waiting implements seam.Limiter.
func (ls *Limiters) Waiting(upstream string) int {
	if l := ls.by[upstream]; l != nil {
		return l.Waiting()
	}
	return 0
}

// SharedStatus returns the shared limits' state for status output.
func (ls *Limiters) SharedStatus() Status { return ls.c.Status() }
