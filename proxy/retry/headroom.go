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

// limitHeaders names, per limit, the header that gives its size; the remaining
// and reset headers come from resetHeaders, in the same order. limitKey is
// limit's canonical form, set by init.
var limitHeaders = []struct{ name, limit, limitKey string }{
	{"requests", "anthropic-ratelimit-requests-limit", ""},
	{"tokens", "anthropic-ratelimit-tokens-limit", ""},
	{"input-tokens", "anthropic-ratelimit-input-tokens-limit", ""},
	{"output-tokens", "anthropic-ratelimit-output-tokens-limit", ""},
	{"requests", "x-ratelimit-limit-requests", ""},
	{"tokens", "x-ratelimit-limit-tokens", ""},
}

// Headroom reads every rate limit an answer states (Anthropic's
// anthropic-ratelimit-* and OpenAI's x-ratelimit-* headers) in a fixed order.
// A limit is reported when its remaining count is readable; its size and reset
// are filled in when present. Resets given as durations are measured from now.
// It returns nil when the answer states none. Safe for concurrent use.
func Headroom(h http.Header, now time.Time) []Limit {
	var out []Limit
	for i, lh := range limitHeaders {
		rh := resetHeaders[i]
		v := headerValue(h, rh.remainingKey)
		if v == "" {
			continue // not stated: skip the parse and its error value
		}
		rem, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || rem < 0 {
			continue
		}
		l := Limit{Name: lh.name, Remaining: rem}
		if v := headerValue(h, lh.limitKey); v != "" {
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
