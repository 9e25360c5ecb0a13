// Package events carries what the proxy core does (retries, recoveries, failures,
// state changes) to whoever listens: the logs, the tray, the status endpoint.
package events

import (
	"sync"
	"time"
)

// Kind says what happened. The zero value is Unknown.
type Kind int

// The kinds of event the core publishes.
const (
	Unknown         Kind = iota
	Listening            // the proxy serves on Addr
	Stopped              // the proxy stopped serving
	PortInUse            // the listen address is taken (Addr, Err)
	Retrying             // an attempt failed and another follows after Delay (Upstream, Attempt, MaxAttempts, Status, Reason)
	Recovered            // a request succeeded after Attempt attempts
	GaveUp               // the last attempt failed; the client got Status
	Throttled            // the local throttle refused a request (queue wait exceeded)
	Unreachable          // the upstream could not be reached (Err)
	KeyMissing           // a request needed key Key, which is not set
	KeychainError        // the keychain failed (Err)
	CookiesSaved         // the cookie jars were written to disk
	SaveFailed           // writing the cookie jars failed (Err); retried later
	CookiesChanged       // an upstream's jar changed (Upstream)
	KeysChanged          // keys were set, deleted or reloaded
	KeyRefused           // the upstream refused key Key (Reason: "401", "enforced_spend_limit_reached"); set aside until it changes
	BreakerOpened        // Upstream's circuit breaker opened after final failures in a row (Reason); requests skip it for Delay
	BreakerClosed        // Upstream's circuit breaker closed again after a good probe
	FellBack             // a request to Upstream finally failed (Reason) and was replayed to Fallback, which answered Status
	CookiesDropped       // short-lived Cloudflare cookies of Upstream were dropped (Reason names them and why)
	SharedDegraded       // the limits shared with the team on Redis are not in use (Reason: why); local limits apply
	SharedConnected      // the shared limits are in use again after SharedDegraded
)

var kindNames = [...]string{
	Unknown: "unknown", Listening: "listening", Stopped: "stopped", PortInUse: "port_in_use",
	Retrying: "retrying", Recovered: "recovered", GaveUp: "gave_up", Throttled: "throttled",
	Unreachable: "unreachable", KeyMissing: "key_missing", KeychainError: "keychain_error",
	CookiesSaved: "cookies_saved", SaveFailed: "save_failed", CookiesChanged: "cookies_changed",
	KeysChanged: "keys_changed", KeyRefused: "key_refused", BreakerOpened: "breaker_opened",
	BreakerClosed: "breaker_closed", FellBack: "fell_back", CookiesDropped: "cookies_dropped",
	SharedDegraded: "shared_degraded", SharedConnected: "shared_connected",
}

// String returns the kind's snake_case name, as used in logs and JSON.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// Event is one thing that happened in the core. It never holds a secret: no key,
// token or cookie value, only names, counts and statuses. The zero value is an
// Unknown event.
type Event struct {
	Time        time.Time
	Kind        Kind
	Upstream    string        // upstream name, when the event concerns one
	Attempt     int           // 1-based attempt number (Retrying, Recovered, GaveUp)
	MaxAttempts int           // attempts allowed in all
	Status      int           // HTTP status of the attempt or of the answer
	Delay       time.Duration // wait before the next attempt (Retrying)
	Reason      string        // why (e.g. "429", "cloudflare 1015", "retry-after 3s")
	Addr        string        // listen address (Listening, PortInUse)
	Key         string        // key name (KeyMissing, KeyRefused)
	Fallback    string        // the fallback upstream that was tried (FellBack)
	Err         string        // error text, when there is one
}

// Bus fans events out to subscribers without ever blocking the publisher: a
// subscriber whose buffer is full misses the event.
// The zero value is ready to use. A Bus is safe for concurrent use.
type Bus struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	ch chan Event
}

// Subscribe returns a channel that receives events published from now on, with
// room for buffer events, and a cancel function that closes it. Cancel is idempotent.
func (b *Bus) Subscribe(buffer int) (<-chan Event, func()) {
	if buffer < 1 {
		buffer = 1
	}
	s := &subscriber{ch: make(chan Event, buffer)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*subscriber]struct{})
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
			close(s.ch)
		})
	}
}

// Publish sends e to every subscriber that has room. A zero e.Time is set to now.
// Publish never blocks. A nil *Bus ignores the event.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
		}
	}
}
