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

// Coalescer turns the core's event stream into few notifications: at most
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

// notifiable reports whether events of e's kind ever reach the user.
func notifiable(e events.Event) bool {
	switch e.Kind {
	case events.Retrying, events.GaveUp, events.Throttled, events.Unreachable,
		events.PortInUse, events.KeychainError, events.KeyMissing,
		events.KeyRefused, events.BreakerOpened, events.BreakerClosed, events.FellBack:
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
