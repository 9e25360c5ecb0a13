package retry

import (
	"net/http"
	"strconv"
	"strings"
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
	var out []Limit
	for _, rh := range resetHeaders {
		v := headerValue(h, rh.remainingKey)
		if v == "" {
			continue // not stated: skip the parse and its error value
		}
		rem, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || rem < 0 {
			continue
		}
		l := Limit{Name: rh.name, Remaining: rem}
		if v := headerValue(h, rh.limitKey); v != "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
				l.Limit = n
			}
		}
		if v := strings.TrimSpace(headerValue(h, rh.resetKey)); v != "" {
			if rh.rfc3339 {
				if t, err := time.Parse(time.RFC3339, v); err == nil {
					l.Reset = t
				}
			} else if d, ok := parseGoDuration(v); ok {
				l.Reset = now.Add(d)
			}
		}
		out = append(out, l)
	}
	return out
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
