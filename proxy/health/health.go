// Package health names how an upstream is doing, as one typed value shared by
// the proxy (which decides it), the status endpoint and CLI (which print it)
// and the tray (which shows it). It has no dependencies, so any package can
// use it without pulling in the proxy.
package health

import "fmt"

// Health is how an upstream is doing. The zero value is Idle. It is a plain
// value, safe to copy and compare.
//
// In JSON and text it is one of the words "idle", "ok", "retrying" and
// "failing" (the /_clearway/status contract).
type Health int

// The health of an upstream, from the least to the most worrying.
const (
	Idle     Health = iota // no request yet
	OK                     // the last request succeeded
	Retrying               // an attempt failed (rate limited, say) and another follows
	Failing                // the last request failed after all retries, or the upstream is unreachable
)

var words = [...]string{Idle: "idle", OK: "ok", Retrying: "retrying", Failing: "failing"}

// String returns "idle", "ok", "retrying" or "failing"; an out-of-range value
// reads "idle".
func (h Health) String() string {
	if h < 0 || int(h) >= len(words) {
		return words[Idle]
	}
	return words[h]
}

// MarshalText writes h as its word, so JSON carries "ok", not 1.
func (h Health) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads one of the four words; anything else is an error
// naming it.
func (h *Health) UnmarshalText(b []byte) error {
	for i, w := range words {
		if string(b) == w {
			*h = Health(i)
			return nil
		}
	}
	return fmt.Errorf("health: unknown state %q (want idle, ok, retrying or failing)", b)
}
