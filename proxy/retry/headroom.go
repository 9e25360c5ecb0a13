package retry

import (
	"net/http"
	"time"
)

// Limit is one rate limit as an answer's headers state it: how much the key
// may use per window, how much is left, and when the window resets. The zero
// Reset means the answer gave none.
type Limit struct {
	Name      string    `json:"name"` // "requests", "tokens", "input-tokens" or "output-tokens"
	Limit     int64     `json:"limit"`
	Remaining int64     `json:"remaining"`
	Reset     time.Time `json:"reset,omitzero"`
}

// Headroom reads every rate limit an answer states (Anthropic's
// anthropic-ratelimit-* and OpenAI's x-ratelimit-* headers) in a fixed order.
// A limit is reported when its remaining count is readable; its size and reset
// are filled in when present. Resets given as durations are measured from now.
// It returns nil when the answer states none. Safe for concurrent use.
func Headroom(h http.Header, now time.Time) []Limit {
	return ReadRates(h, now).Limits
}

// RemainingOf returns the remaining count of the first limit called name in
// limits (Anthropic's before OpenAI's, as Headroom orders them), or -1.
func RemainingOf(limits []Limit, name string) int64 {
	for _, l := range limits {
		if l.Name == name {
			return l.Remaining
		}
	}
	return -1
}
