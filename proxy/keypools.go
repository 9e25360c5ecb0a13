package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/keypool"
	"github.com/clearway/clearway/proxy/retry"
	"github.com/clearway/clearway/proxy/seam"
)

// keyPools is the default seam.Credentials: every upstream's keys as a
// keypool.Pool (`keys:`, or the one `key:`; an upstream without a key gets a
// pool of one unnamed key, so that its rate limits are tracked the same way).
// Each attempt gets the first ready key in the configured order; the headers
// are built as singleKey builds them. Report reads the upstream's answer:
//
//   - remaining 0 with a reset (any status below 400): the key cools until
//     the reset, so new requests take another key, go to a fallback, or
//     wait for it (up to max_queue_wait), instead of meeting a known 429;
//     a reset further away than that, with nowhere else to go, is not
//     waited for: providers give the time of full replenishment, so the
//     request goes and the upstream decides;
//   - a rate-limit 429/529, in a pool of two or more: the key cools until its
//     Retry-After/reset (or twice retry.initial_delay, doubling); the retry
//     goes at once with the next ready key, or waits (within max_queue_wait)
//     for the key that is ready first (a single key's wait is the retry
//     loop's, as before);
//   - invalid (401, 403 authentication error) or out of credit: the key is
//     set aside until its value changes, with one key_refused event.
//
// Safe for concurrent use: the maps are read-only after newKeyPools.
type keyPools struct {
	single *singleKey
	pools  map[string]*keypool.Pool
	names  map[string]bool          // upstreams whose pool holds named keys
	waits  map[string]time.Duration // max_queue_wait per upstream
	clock  seam.Clock
	log    *slog.Logger
	bus    *events.Bus
	// pauses, when the limiter offers them (the team's shared limiter), are
	// keys paused by other instances: they cool here too before a key is
	// chosen. Set once by the server before it serves.
	pauses seam.KeyPauses
}

var _ seam.Credentials = (*keyPools)(nil)

func newKeyPools(single *singleKey, ups []config.Upstream, clock seam.Clock, log *slog.Logger, bus *events.Bus) *keyPools {
	k := &keyPools{
		single: single,
		pools:  make(map[string]*keypool.Pool, len(ups)),
		names:  map[string]bool{},
		waits:  map[string]time.Duration{},
		clock:  clock,
		log:    log,
		bus:    bus,
	}
	for _, up := range ups {
		names := up.Keys
		if len(names) == 0 {
			names = []string{""}
		} else {
			k.names[up.Name] = true
		}
		k.pools[up.Name] = keypool.New(names, keypool.Options{
			Now:             clock.Now,
			InitialCooldown: up.Retry.InitialDelay,
			MaxCooldown:     up.Retry.MaxDelay,
		})
		k.waits[up.Name] = up.Throttle.MaxQueueWait
	}
	return k
}

// Credential picks the attempt's key. When every usable key is cooling it
// waits for the first one to be ready, if that is within max_queue_wait and
// no fallback follows (req.NoWait); otherwise it returns a *seam.Refused
// carrying the wait. Every key refused: an error matching
// seam.ErrKeysRefused. No key set: the single-key answer (a *seam.KeyError
// naming the first key, or the client's own key when it brought one).
func (k *keyPools) Credential(ctx context.Context, req seam.KeyRequest) (seam.Credential, error) {
	pool := k.pools[req.Upstream]
	if pool == nil {
		return k.single.Credential(ctx, req)
	}
	skip := func(name string) bool {
		if name == "" {
			return false
		}
		_, ok, _ := k.single.keys.get(name)
		return !ok
	}
	k.coolPausedKeys(req.Upstream, pool)
	name, wait, err := pool.Pick(skip)
	switch {
	case errors.Is(err, keypool.ErrNoKey):
		return k.single.build(req, pool.Names()[0])
	case errors.Is(err, keypool.ErrAllRefused):
		if req.ClientKey {
			return k.single.build(req, "")
		}
		return seam.Credential{}, fmt.Errorf("upstream %q refused every key (%s): %w", req.Upstream, refusals(pool), seam.ErrKeysRefused)
	case err != nil:
		return seam.Credential{}, err
	}
	if wait > 0 {
		switch {
		case req.NoWait:
			return seam.Credential{}, &seam.Refused{RetryAfter: wait, Reason: "keys cooling"}
		case wait > k.waits[req.Upstream] && exhaustedOnly(pool, name):
			// The reset is when the limit is FULLY replenished; nowhere else
			// to go and too long to wait: let the upstream decide (its own
			// 429 and Retry-After are then honoured as usual).
			k.log.Info("the key's limit resets later than max_queue_wait; sending anyway", "upstream", req.Upstream, "key", name, "reset_in", wait)
			return k.single.build(req, name)
		case wait > k.waits[req.Upstream]:
			return seam.Credential{}, &seam.Refused{RetryAfter: wait, Reason: "keys cooling"}
		}
		k.log.Info("every key is cooling down; waiting for the first to be ready", "upstream", req.Upstream, "key", name, "wait", wait)
		if err := k.clock.Sleep(ctx, wait); err != nil {
			return seam.Credential{}, err
		}
		// Another key may be ready now; if not, the one we waited for is.
		if n, w, err := pool.Pick(skip); err == nil && w == 0 {
			name = n
		}
	}
	return k.single.build(req, name)
}

// teamPauseSlack is how much later than the key's own cooldown a team pause
// must end to count as another member's.
const teamPauseSlack = time.Second

// coolPausedKeys cools each key of pool that the limiter knows to be paused
// (by another instance of the team), so Pick passes it over instead of
// sending a request its 429 would refuse.
func (k *keyPools) coolPausedKeys(upstream string, pool *keypool.Pool) {
	if k.pauses == nil || !k.names[upstream] {
		return
	}
	now := k.clock.Now()
	for _, name := range pool.Names() {
		// A pause this instance set itself (its own 429) is already the
		// key's cooldown, with its own reason; Redis hands it back up to a
		// millisecond later, which must not relabel it. Only a pause that
		// ends clearly later (another member's) cools the key here.
		if until := k.pauses.PausedUntil(upstream, name); until.After(now) && until.Sub(pool.CoolingUntil(name)) > teamPauseSlack {
			pool.Cool(name, until, "paused by the team")
		}
	}
}

// pausedByTeam reports whether the limiter knows key of upstream's pool to
// be paused now (by another instance of the team). False for a nil
// keyPools, a key outside a pool, or without a limiter that shares pauses.
func (k *keyPools) pausedByTeam(upstream, key string) bool {
	if k == nil || k.pauses == nil || key == "" || !k.names[upstream] {
		return false
	}
	return k.pauses.PausedUntil(upstream, key).After(k.clock.Now())
}

// exhaustedOnly reports whether the named key cools only because an answer
// said it had nothing left (not because of a 429).
func exhaustedOnly(pool *keypool.Pool, name string) bool {
	for _, ks := range pool.Status() {
		if ks.Name == name {
			return ks.Exhausted
		}
	}
	return false
}

// refusals lists a pool's refused keys and why, for an error message.
func refusals(pool *keypool.Pool) string {
	var parts []string
	for _, ks := range pool.Status() {
		if ks.State == keypool.StateRefused {
			parts = append(parts, ks.Name+": "+ks.Why)
		}
	}
	return strings.Join(parts, ", ")
}

// Report updates the key's state from the upstream's answer (see keyPools)
// and asks for an immediate retry with another key when one is ready.
func (k *keyPools) Report(c seam.Credential, o seam.Outcome) bool {
	pool := k.pools[c.Upstream]
	if pool == nil || o.Status == 0 {
		return false
	}
	name := c.Name
	if name == "" && k.names[c.Upstream] {
		return false // the client's own key went: nothing of ours to track
	}
	now := k.clock.Now()
	if o.Status < 400 {
		if until, src, ok := o.Rates.Exhausted(now); ok {
			pool.Exhaust(name, until, src)
			k.log.Info("the upstream says the key has nothing left until its reset; new requests will not be sent into a known 429",
				"upstream", c.Upstream, "key", name, "until", until.Format(time.RFC3339), "header", src)
			return false
		}
		pool.Succeeded(name)
		return false
	}
	problem, why := o.Key, o.KeyWhy
	switch problem {
	case retry.KeyRateLimited:
		if pool.Len() < 2 {
			return false // one key: the retry loop waits as the upstream asked
		}
		var until time.Time
		if o.HasAfter {
			until = now.Add(o.After)
		}
		ready := pool.Cool(name, until, why)
		k.log.Info("key rate limited; it cools down while the pool's other keys carry the traffic", "upstream", c.Upstream, "key", name, "until", ready.Format(time.RFC3339))
		// Retry with whichever key is ready first (Credential waits for it
		// within max_queue_wait), not after this key's own wait.
		return pool.Usable(name)
	case retry.KeyInvalid, retry.KeyNoCredit:
		if name == "" {
			return false
		}
		if pool.Refuse(name, why) {
			k.log.Warn("the upstream refused a key; it is set aside until it is set again", "upstream", c.Upstream, "key", name, "why", problem.String()+" ("+why+")")
			k.bus.Publish(events.Event{Kind: events.KeyRefused, Upstream: c.Upstream, Key: name, Status: o.Status, Reason: problem.String() + ": " + why})
		}
		return pool.Usable(name)
	}
	return false
}

// forgive makes the named keys usable again in every pool (their values
// changed in the keychain).
func (k *keyPools) forgive(names []string) {
	for _, pool := range k.pools {
		for _, n := range names {
			pool.Forgive(n)
		}
	}
}

// forgiveRefused makes every refused key usable again: the user acted on
// the keys (set one, added credit and re-set it), so each gets another try.
func (k *keyPools) forgiveRefused() {
	for _, pool := range k.pools {
		for _, ks := range pool.Status() {
			if ks.State == keypool.StateRefused {
				pool.Forgive(ks.Name)
			}
		}
	}
}

// status returns an upstream's named keys and their states; nil for an
// upstream without named keys.
func (k *keyPools) status(upstream string) []keypool.KeyStatus {
	if !k.names[upstream] {
		return nil
	}
	return k.pools[upstream].Status()
}
