// Package keypool keeps the state of an upstream's API keys (a pool named by
// `keys:` in the config): which are ready, which cool down after a rate limit
// until a known time, and which were refused (invalid, out of credit) and are
// set aside until the user changes them. It holds key NAMES only, never key
// values, so its state can be shown anywhere.
//
// Selection is "first ready in the configured order": the first key is the
// preferred one and is used again as soon as its cooldown ends; the others
// carry the traffic while it cools. Time is injected (Options.Now).
package keypool

import (
	"errors"
	"slices"
	"sync"
	"time"
)

// ErrAllRefused is returned by Pick when every key of the pool was refused
// (invalid or out of credit): no wait can help until the user changes one.
var ErrAllRefused = errors.New("keypool: every key was refused")

// ErrNoKey is returned by Pick when the pool has no key the caller can use.
var ErrNoKey = errors.New("keypool: no usable key")

// The states a key can be in, as KeyStatus.State spells them.
const (
	StateReady   = "ready"   // can be used now
	StateCooling = "cooling" // rate limited or exhausted until KeyStatus.Until
	StateRefused = "refused" // refused by the upstream (KeyStatus.Why); set aside until the key changes
)

// Options configure New. The zero value uses time.Now, a 1 s initial cooldown
// and a 30 s cap.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// InitialCooldown is the base of the cooldown used when a rate limit
	// gives no reset time: it doubles with each rate limit in a row, starting
	// at twice this value (the config's retry.initial_delay). 0 means 1 s.
	InitialCooldown time.Duration
	// MaxCooldown caps that computed cooldown (retry.max_delay); 0 means 30 s.
	// A reset time the upstream gave is honoured as it is.
	MaxCooldown time.Duration
}

// KeyStatus is one key's state for status output, the tray and the
// dashboard. It never holds the key's value. The zero value is a ready key
// without a name.
type KeyStatus struct {
	Name  string     `json:"name"`
	State string     `json:"state"`           // StateReady, StateCooling or StateRefused
	Until *time.Time `json:"until,omitempty"` // cooling: when the key is ready again
	Why   string     `json:"why,omitempty"`   // cooling or refused: a short reason ("429", "401", "enforced_spend_limit_reached")
	// Exhausted is true for a key cooling because an answer said nothing is
	// left until a reset (Exhaust), rather than because it was refused with
	// a 429 (Cool). Providers give the time of FULL replenishment there, so
	// a request may already succeed before it.
	Exhausted bool `json:"exhausted,omitempty"`
}

// Pool is the state of one upstream's keys. Build it with New; the zero value
// is an empty pool whose Pick always fails. A Pool is safe for concurrent use.
type Pool struct {
	now       func() time.Time
	base, max time.Duration

	mu   sync.Mutex
	keys []*key
}

type key struct {
	name      string
	until     time.Time // cooling until then (zero or past: not cooling)
	why       string    // reason of the cooldown or of the refusal
	exhausted bool      // the cooldown came from Exhaust, not Cool
	refused   bool
	strikes   int // rate limits in a row without a reset time
}

// New returns a pool of the named keys, all ready, in order of preference.
// Duplicate names are kept once.
func New(names []string, opts Options) *Pool {
	p := &Pool{now: opts.Now, base: opts.InitialCooldown, max: opts.MaxCooldown}
	if p.now == nil {
		p.now = time.Now
	}
	if p.base <= 0 {
		p.base = time.Second
	}
	if p.max <= 0 {
		p.max = 30 * time.Second
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			p.keys = append(p.keys, &key{name: n})
		}
	}
	return p
}

// Len returns how many keys the pool has.
func (p *Pool) Len() int {
	if p == nil {
		return 0
	}
	return len(p.keys)
}

// Names returns the key names in order of preference.
func (p *Pool) Names() []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.keys))
	for i, k := range p.keys {
		out[i] = k.name
	}
	return out
}

// Pick chooses the key for the next attempt: the first key, in order of
// preference, that is neither refused nor cooling nor skipped, with wait 0.
// When every usable key is cooling, it returns the one that is ready first
// and how long until then (the caller waits, within its bound, or goes to a
// fallback). skip, when not nil, leaves out keys the caller cannot use (not
// set in the keychain). It returns ErrAllRefused when every key that is not
// skipped was refused, ErrNoKey when every key is skipped, and ErrNoKey for
// an empty pool.
func (p *Pool) Pick(skip func(name string) bool) (name string, wait time.Duration, err error) {
	if p == nil || len(p.keys) == 0 {
		return "", 0, ErrNoKey
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var soonest *key
	usable := 0
	for _, k := range p.keys {
		if skip != nil && skip(k.name) {
			continue
		}
		usable++
		if k.refused {
			continue
		}
		if !k.until.After(now) {
			return k.name, 0, nil
		}
		if soonest == nil || k.until.Before(soonest.until) {
			soonest = k
		}
	}
	if usable == 0 {
		return "", 0, ErrNoKey
	}
	if soonest == nil {
		return "", 0, ErrAllRefused
	}
	return soonest.name, soonest.until.Sub(now), nil
}

// Ready reports whether some key other than the named one can be used now.
func (p *Pool) Ready(except string) bool {
	if p == nil {
		return false
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		if k.name != except && !k.refused && !k.until.After(now) {
			return true
		}
	}
	return false
}

// Usable reports whether some key other than the named one is not refused:
// ready now or later, once its cooldown ends.
func (p *Pool) Usable(except string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		if k.name != except && !k.refused {
			return true
		}
	}
	return false
}

// Cool marks the named key as cooling until the given time, for why (a short,
// secret-free reason such as "429" or "anthropic-ratelimit-requests-reset").
// A zero until means the upstream gave no reset: the key then cools for twice
// the initial cooldown, doubling with each rate limit in a row, up to the
// cap. A cooldown never shortens one already running. Cool returns the time
// the key is ready again. Unknown names are ignored (zero time).
func (p *Pool) Cool(name string, until time.Time, why string) time.Time {
	if p == nil {
		return time.Time{}
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.find(name)
	if k == nil {
		return time.Time{}
	}
	if until.IsZero() {
		k.strikes++
		d := p.base
		for i := 0; i < k.strikes && d < p.max; i++ {
			d *= 2
		}
		until = now.Add(min(d, p.max))
	}
	if until.After(k.until) {
		k.until, k.why, k.exhausted = until, why, false
	}
	return k.until
}

// Exhaust marks the named key as cooling until the given reset because an
// answer said it has nothing left (remaining 0) until then; why names the
// header. Like Cool it never shortens a cooldown; unlike Cool the cooldown is
// soft (KeyStatus.Exhausted). A zero until is ignored.
func (p *Pool) Exhaust(name string, until time.Time, why string) {
	if p == nil || until.IsZero() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.find(name); k != nil && until.After(k.until) {
		k.until, k.why, k.exhausted = until, why, true
	}
}

// Refuse sets the named key aside for why ("401", "enforced_spend_limit_reached")
// until Forgive is called for it. first is true only for the call that
// refused it, so the caller notifies the user once.
func (p *Pool) Refuse(name, why string) (first bool) {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.find(name)
	if k == nil || k.refused {
		return false
	}
	k.refused, k.why = true, why
	return true
}

// Succeeded records an answer that did not rate-limit the key: the doubling
// of computed cooldowns starts again from the beginning.
func (p *Pool) Succeeded(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.find(name); k != nil {
		k.strikes = 0
	}
}

// Forgive makes the named key ready again: its value changed (the user set a
// new one), so an earlier refusal or cooldown no longer applies.
func (p *Pool) Forgive(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.find(name); k != nil {
		*k = key{name: k.name}
	}
}

// CoolingUntil returns until when the named key cools (zero: it does not,
// or no such key), whatever the reason.
func (p *Pool) CoolingUntil(name string) time.Time {
	if p == nil {
		return time.Time{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.find(name); k != nil {
		return k.until
	}
	return time.Time{}
}

// Status returns every key's state, in order of preference.
func (p *Pool) Status() []KeyStatus {
	if p == nil {
		return nil
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]KeyStatus, 0, len(p.keys))
	for _, k := range p.keys {
		ks := KeyStatus{Name: k.name, State: StateReady}
		switch {
		case k.refused:
			ks.State, ks.Why = StateRefused, k.why
		case k.until.After(now):
			u := k.until
			ks.State, ks.Until, ks.Why, ks.Exhausted = StateCooling, &u, k.why, k.exhausted
		}
		out = append(out, ks)
	}
	return out
}

func (p *Pool) find(name string) *key {
	i := slices.IndexFunc(p.keys, func(k *key) bool { return k.name == name })
	if i < 0 {
		return nil
	}
	return p.keys[i]
}
