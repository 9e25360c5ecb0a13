package tray

import (
	"fmt"
	"strings"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/assets"
	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/retry"
)

// statusLine is the first, disabled line of the menu: "Running on
// 127.0.0.1:8764", "Starting on 127.0.0.1:8764…", "Stopping…", "Stopped",
// or the problem that keeps the proxy from running ("Port 8764 is in use").
func statusLine(s view.Snapshot) string {
	switch {
	case s.Phase == view.Running:
		return "Running on " + s.Addr
	case s.Phase == view.Starting:
		return "Starting on " + s.Addr + "…"
	case s.Phase == view.Stopping:
		return "Stopping…"
	case s.Problem != "":
		return s.Problem
	default:
		return "Stopped"
	}
}

// problemLine is a second status line shown while the proxy runs but
// something needs the user ("Keychain locked"); "" when there is none.
func problemLine(s view.Snapshot) string {
	if s.Running() && s.Problem != "" {
		return "⚠ " + s.Problem
	}
	return ""
}

// sharedLine says whether the limits are shared with the team while the
// proxy runs with a shared: block ("" otherwise).
func sharedLine(s view.Snapshot) string {
	switch {
	case !s.Running() || s.Shared == "":
		return ""
	case s.Shared == "connected" && s.Team > 1:
		return fmt.Sprintf("Team limits shared (%d clearways)", s.Team)
	case s.Shared == "connected":
		return "Team limits shared"
	}
	return "⚠ Team limits not shared (" + s.SharedWhy + "); local limits apply"
}

// stopToggles reports whether the Start/Stop item stops: while the proxy
// runs or starts (a Stop abandons a start under way). While it stops, the
// item starts it again.
func stopToggles(s view.Snapshot) bool {
	return s.Phase == view.Running || s.Phase == view.Starting
}

// toggleLabel names the action the Start/Stop item performs.
func toggleLabel(s view.Snapshot) string {
	if stopToggles(s) {
		return "Stop proxy"
	}
	return "Start proxy"
}

// upstreamLabel is an upstream's entry in the Upstreams submenu:
// "anthropic: ok" or "anthropic: rate limited, retrying".
func upstreamLabel(u view.Upstream) string {
	l := u.Name + ": " + healthWords(u.Health)
	if u.Circuit != view.CircuitClosed {
		l += ", circuit " + u.Circuit.String()
		if len(u.Fallbacks) > 0 {
			l += " (using " + strings.Join(u.Fallbacks, ", ") + ")"
		}
	}
	return l
}

// upstreamCounters is the disabled detail line under an upstream:
// "12 requests, 1 retry, 2 in flight".
func upstreamCounters(u view.Upstream) string {
	parts := []string{plural(int(u.Requests), "request", "requests"), plural(int(u.Retries), "retry", "retries")}
	if u.InFlight > 0 {
		parts = append(parts, fmt.Sprintf("%d in flight", u.InFlight))
	}
	if u.LastStatus != 0 {
		parts = append(parts, fmt.Sprintf("last %d", u.LastStatus))
	}
	return strings.Join(parts, ", ")
}

// cookiesLabel is the disabled cookie count line under an upstream.
func cookiesLabel(u view.Upstream) string {
	return plural(u.Cookies, "cookie", "cookies") + " kept"
}

// upstreamsTitle is the Upstreams submenu's own label; it names trouble so
// the user sees it without opening the submenu.
func upstreamsTitle(s view.Snapshot) string {
	var retrying, failing int
	for _, u := range s.Upstreams {
		switch u.Health {
		case health.Retrying:
			retrying++
		case health.Failing:
			failing++
		}
	}
	var notes []string
	if failing > 0 {
		notes = append(notes, fmt.Sprintf("%d failing", failing))
	}
	if retrying > 0 {
		notes = append(notes, fmt.Sprintf("%d retrying", retrying))
	}
	if len(notes) == 0 {
		return "Upstreams"
	}
	return "Upstreams (" + strings.Join(notes, ", ") + ")"
}

// keyLabel is a key's entry in the API keys submenu: "anthropic: set",
// "anthropic: missing", or a pool key's state ("anthropic-2: cooling until
// 14:03:10", "anthropic-3: refused: 401"). It never holds any part of the
// secret.
func keyLabel(k view.Key) string {
	switch {
	case !k.Set:
		return k.Name + ": missing"
	case k.Pool != "":
		return k.Name + ": " + k.Pool
	}
	return k.Name + ": set"
}

// keyUsedBy is the disabled line under a key naming the upstreams that send it.
func keyUsedBy(k view.Key) string {
	if len(k.UsedBy) == 0 {
		return "Not used by any upstream"
	}
	return "Used by " + strings.Join(k.UsedBy, ", ")
}

// keysTitle is the API keys submenu's label; it counts missing keys.
func keysTitle(s view.Snapshot) string {
	missing := 0
	for _, k := range s.Keys {
		if !k.Set {
			missing++
		}
	}
	if missing == 0 {
		return "API keys"
	}
	return fmt.Sprintf("API keys (%d missing)", missing)
}

// maxTooltip bounds the tooltip; panels show one short line.
const maxTooltip = 120

// tooltip is the one-line live summary shown when hovering the icon.
func tooltip(s view.Snapshot) string {
	var b strings.Builder
	b.WriteString("clearway")
	if s.Version != "" {
		b.WriteString(" " + s.Version)
	}
	b.WriteString(": ")
	switch {
	case s.Phase == view.Starting:
		b.WriteString("starting")
	case s.Phase == view.Stopping:
		b.WriteString("stopping")
	case !s.Running() && s.Problem != "":
		b.WriteString(s.Problem)
	case !s.Running():
		b.WriteString("stopped")
	default:
		b.WriteString("running on " + s.Addr)
		var trouble []string
		inFlight := 0
		for _, u := range s.Upstreams {
			inFlight += u.InFlight
			if u.Health == health.Retrying || u.Health == health.Failing {
				trouble = append(trouble, u.Name+" "+healthWords(u.Health))
			}
		}
		if s.Problem != "" {
			trouble = append([]string{s.Problem}, trouble...)
		}
		if len(trouble) > 0 {
			b.WriteString("; " + strings.Join(trouble, "; "))
		} else if inFlight > 0 {
			b.WriteString(fmt.Sprintf("; %d in flight", inFlight))
		}
		if l := tightestHeadroom(s); l != "" {
			b.WriteString("; " + l)
		}
		if l := todayLine(s); l != "" {
			b.WriteString("; " + l)
		}
	}
	return truncate(b.String(), maxTooltip)
}

// iconState picks the tray icon for s, the most urgent condition first:
// error (not serving because of a problem, or an upstream failing), warning
// (retrying, or a problem while serving), busy (requests in flight),
// running, stopped.
func iconState(s view.Snapshot) assets.State {
	if s.Phase == view.Starting {
		return assets.Busy
	}
	if !s.Running() {
		if s.Problem != "" && s.Phase != view.Stopping {
			return assets.Error
		}
		return assets.Stopped
	}
	var retrying, failing, inFlight bool
	for _, u := range s.Upstreams {
		switch u.Health {
		case health.Failing:
			failing = true
		case health.Retrying:
			retrying = true
		}
		if u.InFlight > 0 {
			inFlight = true
		}
	}
	switch {
	case failing:
		return assets.Error
	case retrying || s.Problem != "":
		return assets.Warning
	case inFlight:
		return assets.Busy
	default:
		return assets.Running
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// truncate cuts s to at most n runes, ending with an ellipsis when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// headroomLine is one rate limit as the upstream's submenu shows it:
// "tokens: 38k of 40k left, resets 12:03".
func headroomLine(l retry.Limit) string {
	line := l.Name + ": " + shortCount(l.Remaining)
	if l.Limit > 0 {
		line += " of " + shortCount(l.Limit)
	}
	line += " left"
	if !l.Reset.IsZero() {
		line += ", resets " + l.Reset.Local().Format("15:04")
	}
	return line
}

// tightestHeadroom names the rate limit with the smallest share left across
// the upstreams, for the tooltip: "anthropic: tokens: 38k of 40k left,
// resets 12:03"; "" when no upstream stated one.
func tightestHeadroom(s view.Snapshot) string {
	best, share := "", 2.0
	for _, u := range s.Upstreams {
		for _, l := range u.RateLimits {
			if l.Limit <= 0 {
				continue
			}
			if f := float64(l.Remaining) / float64(l.Limit); f < share {
				best, share = u.Name+": "+headroomLine(l), f
			}
		}
	}
	return best
}

// todayLine is what the ledger counted today: "today: 1.2M tokens, ~$3.10";
// "" before anything was counted.
func todayLine(s view.Snapshot) string {
	if s.Today.Requests == 0 {
		return ""
	}
	return fmt.Sprintf("today: %s tokens, ~$%.2f", shortCount(s.Today.Tokens), s.Today.CostUSD)
}

// shortCount writes n as people read counts: 950, 38k, 1.2M.
func shortCount(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	case n >= 1000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}
