package retry

import (
	"math"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// resetHeader is one provider rate limit as its headers state it: the reset
// header, the header that reports how much remains, and the one that gives the
// limit's size (Headroom), with the limit's name.
type resetHeader struct {
	reset, remaining string
	rfc3339          bool // Anthropic: an RFC 3339 time; OpenAI: a Go-like duration
	name, limit      string
	// resetKey, remainingKey and limitKey are the canonical forms of reset,
	// remaining and limit, set by init: looked up in the header map directly,
	// they cost no canonicalisation (an allocation each) on every answer.
	resetKey, remainingKey, limitKey string
}

// resetHeaders lists the provider reset headers ParseServerWait reads.
var resetHeaders = []resetHeader{
	{reset: "anthropic-ratelimit-requests-reset", remaining: "anthropic-ratelimit-requests-remaining", rfc3339: true,
		name: "requests", limit: "anthropic-ratelimit-requests-limit"},
	{reset: "anthropic-ratelimit-tokens-reset", remaining: "anthropic-ratelimit-tokens-remaining", rfc3339: true,
		name: "tokens", limit: "anthropic-ratelimit-tokens-limit"},
	{reset: "anthropic-ratelimit-input-tokens-reset", remaining: "anthropic-ratelimit-input-tokens-remaining", rfc3339: true,
		name: "input-tokens", limit: "anthropic-ratelimit-input-tokens-limit"},
	{reset: "anthropic-ratelimit-output-tokens-reset", remaining: "anthropic-ratelimit-output-tokens-remaining", rfc3339: true,
		name: "output-tokens", limit: "anthropic-ratelimit-output-tokens-limit"},
	{reset: "x-ratelimit-reset-requests", remaining: "x-ratelimit-remaining-requests",
		name: "requests", limit: "x-ratelimit-limit-requests"},
	{reset: "x-ratelimit-reset-tokens", remaining: "x-ratelimit-remaining-tokens",
		name: "tokens", limit: "x-ratelimit-limit-tokens"},
}

func init() {
	for i := range resetHeaders {
		rh := &resetHeaders[i]
		rh.resetKey = textproto.CanonicalMIMEHeaderKey(rh.reset)
		rh.remainingKey = textproto.CanonicalMIMEHeaderKey(rh.remaining)
		rh.limitKey = textproto.CanonicalMIMEHeaderKey(rh.limit)
	}
}

// headerValue is h.Get(key) for a key already in canonical form.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ParseServerWait reads how long the server asked the client to wait, from the
// first of these that gives a usable (non-negative) wait:
//
//  1. retry-after-ms: milliseconds, integer or fractional ("250", "1.5");
//  2. Retry-After: seconds, integer or fractional ("3", "0.5"), or an HTTP date
//     (measured from now);
//  3. the provider reset headers: anthropic-ratelimit-{requests,tokens,
//     input-tokens,output-tokens}-reset (RFC 3339 times, measured from now) and
//     x-ratelimit-reset-{requests,tokens} (Go-like durations: "1s", "6m0s",
//     "12ms", "1m30.5s"). Several limits may be reported at once and only an
//     exhausted one blocks, so the choice is the LATEST reset among the limits
//     whose matching *-remaining header says 0; when none says 0 (a request
//     can be refused for needing more tokens than remain), the latest of all.
//     Waiting for the latest is the conservative choice: an earlier retry
//     would only be refused again.
//
// source is the lowercase header name that gave d. Garbage, signs, exponents,
// NaN and negative values are ignored (a later header may still answer); a
// time up to one second in the past counts as 0 (HTTP dates have one-second
// granularity); values too large for a time.Duration saturate at its maximum.
// ok is false when no header gives a usable wait. ParseServerWait is safe for
// concurrent use.
func ParseServerWait(h http.Header, now time.Time) (d time.Duration, source string, ok bool) {
	return serverWait(h, ReadRates(h, now), now)
}

// serverWait is ParseServerWait with the reset headers already read into r.
func serverWait(h http.Header, r Rates, now time.Time) (time.Duration, string, bool) {
	if v := headerValue(h, "Retry-After-Ms"); v != "" {
		if d, ok := parseDecimal(v, time.Millisecond); ok {
			return d, "retry-after-ms", true
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if d, ok := parseDecimal(v, time.Second); ok {
			return d, "retry-after", true
		}
		if t, err := http.ParseTime(strings.TrimSpace(v)); err == nil {
			if d, ok := untilTime(t, now); ok {
				return d, "retry-after", true
			}
		}
	}
	return r.resetWait(now)
}

// exhausted reports whether a *-remaining header value says nothing is left.
func exhausted(remaining string) bool {
	if remaining == "" {
		return false // most answers state no limit: no parse, no error value
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(remaining), 64)
	return err == nil && n <= 0
}

// untilTime is t-now, with up to one second in the past counted as 0 (an HTTP
// date or a whole-second reset time that is "now"). ok is false further back.
func untilTime(t, now time.Time) (time.Duration, bool) {
	d := t.Sub(now) // saturates instead of overflowing
	switch {
	case d >= 0:
		return d, true
	case d > -time.Second:
		return 0, true
	default:
		return 0, false
	}
}

// parseDecimal reads an unsigned decimal number of units ("3", "0.25", "1.",
// ".5") exactly, to the nanosecond, saturating at the largest time.Duration.
// Signs, exponents, hex, NaN, Inf and empty strings are rejected.
func parseDecimal(s string, unit time.Duration) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, false
	}
	const maxD = time.Duration(math.MaxInt64)
	var n time.Duration
	for _, c := range []byte(intPart) {
		digit := time.Duration(c - '0')
		if n > (maxD-digit)/10 {
			return maxD, true
		}
		n = n*10 + digit
	}
	if n > maxD/unit {
		return maxD, true
	}
	d := n * unit
	scale := unit
	for _, c := range []byte(frac) {
		scale /= 10
		if scale == 0 {
			break
		}
		add := time.Duration(c-'0') * scale
		if d > maxD-add {
			return maxD, true
		}
		d += add
	}
	return d, true
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// goDurationSyntax matches an unsigned Go duration string, so that a value
// time.ParseDuration refuses only because it overflows can saturate instead.
var goDurationSyntax = regexp.MustCompile(`^(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

// parseGoDuration reads an OpenAI-style reset duration ("1s", "6m0s", "12ms",
// "1m30.5s"). Negative values are rejected; values too large saturate.
func parseGoDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, true
	}
	if !goDurationSyntax.MatchString(s) { // also rejects signs
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Duration(math.MaxInt64), true // well-formed, so it overflowed
	}
	return d, true
}
