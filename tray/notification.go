package tray

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/events"
)

// Notification is one desktop notification. Key groups notifications that
// replace each other where the platform can (Linux): an upstream's
// "recovered" replaces its "retrying". The zero value is an empty notification.
type Notification struct {
	Key     string
	Summary string
	Body    string
	Urgent  bool
}

// DefaultCoalesceWindow is how long a notification of one kind for one
// upstream silences the next ones.
const DefaultCoalesceWindow = 30 * time.Second

// coalesceKey is what notifications are coalesced by.
type coalesceKey struct {
	upstream string
	kind     events.Kind
}

// Coalescer turns the proxy's event stream into few notifications: at most
// one per (upstream, kind) per window, so a burst of rate-limited requests
// gives one "retrying" notice, not one per request or per attempt. Events of
// kinds nobody needs to hear about (listening, cookies saved, ...) give none.
// It is a pure function of the events and the times it is given.
// The zero value uses DefaultCoalesceWindow. Not safe for concurrent use.
type Coalescer struct {
	// Window is the coalescing period; zero means DefaultCoalesceWindow.
	Window time.Duration

	last       map[coalesceKey]time.Time
	suppressed map[coalesceKey]int
	bursts     map[string]*burst // per upstream: the outcomes of its current burst
}

// burst tallies the final outcomes of one upstream's requests while they keep
// coming less than a window apart, so that the one notification an upstream
// has on screen (they share a replace key) always counts every failure: a
// "recovered" for one request never hides a "gave up" for another.
type burst struct {
	last      time.Time // the latest outcome
	failed    int
	failWhy   string // the latest failure's cause, e.g. "HTTP 429 after 2 attempts"
	recovered int
}

// Decide returns the notification to show for e, seen at now, and whether to
// show one at all.
func (c *Coalescer) Decide(e events.Event, now time.Time) (Notification, bool) {
	if !notifiable(e) {
		return Notification{}, false
	}
	if c.last == nil {
		c.last = make(map[coalesceKey]time.Time)
		c.suppressed = make(map[coalesceKey]int)
	}
	window := c.Window
	if window <= 0 {
		window = DefaultCoalesceWindow
	}
	switch e.Kind {
	case events.GaveUp, events.Recovered:
		return c.outcome(e, now, window)
	case events.Retrying:
		if b := c.bursts[e.Upstream]; b != nil && b.failed > 0 && now.Sub(b.last) < window {
			// The upstream's notice on screen counts failures; a retry notice
			// would replace it and hide them.
			c.suppressed[coalesceKey{e.Upstream, e.Kind}]++
			return Notification{}, false
		}
	}
	k := coalesceKey{e.Upstream, e.Kind}
	if e.Kind == events.KeyMissing || e.Kind == events.KeyRefused {
		k.upstream = "key:" + e.Key
	}
	if t, ok := c.last[k]; ok && now.Sub(t) < window && now.Sub(t) >= 0 {
		c.suppressed[k]++
		return Notification{}, false
	}
	n := message(e, c.suppressed[k])
	c.last[k] = now
	c.suppressed[k] = 0
	return n, true
}

// outcome folds a request's final outcome into its upstream's burst and says
// what the upstream's notification must now read. Every failure updates it (in
// place, by its key), and so does every recovery once something failed; while
// nothing failed, recoveries are coalesced like other kinds.
func (c *Coalescer) outcome(e events.Event, now time.Time, window time.Duration) (Notification, bool) {
	if c.bursts == nil {
		c.bursts = make(map[string]*burst)
	}
	b := c.bursts[e.Upstream]
	if b == nil || now.Sub(b.last) >= window || now.Before(b.last) {
		b = &burst{}
		c.bursts[e.Upstream] = b
	}
	b.last = now
	if e.Kind == events.GaveUp {
		b.failed++
		b.failWhy = why(e)
		if e.Attempt > 1 {
			b.failWhy += " " + afterAttempts(e.Attempt)
		}
	} else {
		b.recovered++
	}
	if b.failed == 0 {
		k := coalesceKey{e.Upstream, e.Kind}
		if t, ok := c.last[k]; ok && now.Sub(t) < window && now.Sub(t) >= 0 {
			c.suppressed[k]++
			return Notification{}, false
		}
		c.last[k] = now
		c.suppressed[k] = 0
		n := message(e, 0)
		if b.recovered > 1 {
			n.Body += fmt.Sprintf(" %s recovered in this burst.", plural(b.recovered, "request", "requests"))
		}
		return n, true
	}
	if b.failed == 1 && b.recovered == 0 {
		return message(e, 0), true // one failure alone: its own words
	}
	up := e.Upstream
	if up == "" {
		up = "upstream"
	}
	n := Notification{Key: "upstream:" + up, Urgent: true}
	n.Summary = up + ": " + plural(b.failed, "request", "requests") + " failed"
	n.Body = fmt.Sprintf("%s: %s failed (%s)", up, plural(b.failed, "request", "requests"), b.failWhy)
	if b.recovered > 0 {
		n.Summary += fmt.Sprintf(", %d recovered", b.recovered)
		n.Body += fmt.Sprintf(", %d recovered after retrying", b.recovered)
	}
	n.Body += "."
	return n, true
}

// notifiable reports whether events of e's kind ever reach the user.
func notifiable(e events.Event) bool {
	switch e.Kind {
	case events.Retrying, events.GaveUp, events.Throttled, events.Unreachable,
		events.PortInUse, events.KeychainError, events.KeyMissing,
		events.KeyRefused, events.BreakerOpened, events.BreakerClosed, events.FellBack,
		events.SharedDegraded, events.SharedConnected:
		return true
	case events.Recovered:
		return e.Attempt > 1 // a first-try success is not news
	}
	return false
}

// message writes the notification for e; earlier counts the events of the
// same kind for the same upstream that were coalesced into it.
func message(e events.Event, earlier int) Notification {
	up := e.Upstream
	if up == "" {
		up = "upstream"
	}
	n := Notification{Key: "upstream:" + up}
	switch e.Kind {
	case events.Retrying:
		n.Summary = up + ": retrying"
		if rateLimited(e) {
			n.Summary = up + ": rate limited, retrying"
		}
		n.Body = fmt.Sprintf("Attempt %d%s failed (%s); clearway keeps the session's cookies and tries again%s.",
			e.Attempt, ofMax(e.MaxAttempts), why(e), inDelay(e.Delay))
		if earlier > 0 {
			n.Body += fmt.Sprintf(" %s since the last notice.", plural(earlier, "more retry", "more retries"))
		}
	case events.Recovered:
		n.Summary = up + ": recovered"
		n.Body = fmt.Sprintf("The request succeeded after %s.", plural(e.Attempt, "attempt", "attempts"))
	case events.GaveUp:
		n.Summary = up + ": gave up"
		n.Body = fmt.Sprintf("The request failed %s; the client got HTTP %d (%s).",
			afterAttempts(e.Attempt), e.Status, why(e))
		n.Urgent = true
	case events.Throttled:
		n.Key = "throttle:" + up
		n.Summary = up + ": local queue full"
		n.Body = "clearway refused a request: too many were waiting for this upstream's rate limit. " +
			"Slow the client down or raise the upstream's throttle in the config."
	case events.Unreachable:
		n.Summary = up + ": unreachable"
		n.Body = "clearway cannot reach " + up
		if e.Err != "" {
			n.Body += ": " + e.Err
		}
		n.Body += "."
		n.Urgent = true
	case events.PortInUse:
		port := e.Addr
		if _, p, err := net.SplitHostPort(e.Addr); err == nil {
			port = p
		}
		n.Key = "port"
		n.Summary = "Port " + port + " is in use"
		n.Body = "Another program listens on " + e.Addr + ", so the proxy cannot start. " +
			"Quit that program or set another listen address in the config."
		n.Urgent = true
	case events.KeychainError:
		n.Key = "keychain"
		n.Summary = "Keychain problem"
		n.Body = "clearway cannot use the system keychain"
		if e.Err != "" {
			n.Body += ": " + e.Err
		}
		n.Body += ". Unlock the keychain, then start the proxy again."
		n.Urgent = true
	case events.KeyMissing:
		n.Key = "key:" + e.Key
		n.Summary = "API key " + e.Key + " is not set"
		n.Body = "A request to " + up + " needs it. Copy the key, then choose API keys › " + e.Key +
			" › Set from clipboard in the clearway menu."
		n.Urgent = true
	case events.KeyRefused:
		n.Key = "key:" + e.Key
		n.Summary = "API key " + e.Key + " was refused"
		n.Body = up + " refused it (" + why(e) + "). clearway uses the pool's other keys and leaves this one aside until you set it again " +
			"(API keys › " + e.Key + " › Set from clipboard, or `clearway keys set " + e.Key + "`)."
		n.Urgent = true
	case events.BreakerOpened:
		n.Key = "breaker:" + up
		n.Summary = up + ": circuit open"
		n.Body = fmt.Sprintf("%s failed %s in a row (%s); requests skip it", up, plural(e.Attempt, "time", "times"), why(e))
		if e.Delay > 0 {
			n.Body += " for " + e.Delay.Round(time.Second).String()
		}
		n.Body += " and go to its fallbacks, or get an immediate 503. Then one request probes it."
		n.Urgent = true
	case events.BreakerClosed:
		n.Key = "breaker:" + up
		n.Summary = up + ": circuit closed"
		n.Body = "A probe request to " + up + " succeeded; requests go to it again."
	case events.SharedDegraded:
		n.Key = "shared"
		n.Summary = "Team limits not shared"
		n.Body = "clearway cannot use the team's Redis (" + why(e) + "), so this instance keeps to its own limits; " +
			"it reconnects by itself and says so."
	case events.SharedConnected:
		n.Key = "shared"
		n.Summary = "Team limits shared again"
		n.Body = "clearway reached the team's Redis: the rate budget, concurrency and pauses are shared again."
	case events.FellBack:
		n.Key = "fallback:" + up
		n.Summary = up + ": answered by " + e.Fallback
		n.Body = up + " failed (" + why(e) + "), so clearway sent the request to its fallback " + e.Fallback + "."
		if earlier > 0 {
			n.Body += fmt.Sprintf(" %s since the last notice.", plural(earlier, "more request", "more requests"))
		}
	}
	return n
}

func rateLimited(e events.Event) bool {
	r := strings.ToLower(e.Reason)
	return e.Status == 429 || strings.Contains(r, "rate") || strings.Contains(r, "1015") ||
		strings.Contains(r, "1200") || strings.Contains(r, "429")
}

func why(e events.Event) string {
	switch {
	case e.Reason != "":
		return e.Reason
	case e.Status != 0:
		return fmt.Sprintf("HTTP %d", e.Status)
	case e.Err != "":
		return e.Err
	}
	return "no answer"
}

func ofMax(max int) string {
	if max > 0 {
		return fmt.Sprintf(" of %d", max)
	}
	return ""
}

func inDelay(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " in " + d.Round(100*time.Millisecond).String()
}

func afterAttempts(n int) string {
	if n <= 1 {
		return "at once"
	}
	return "after " + plural(n, "attempt", "attempts")
}
