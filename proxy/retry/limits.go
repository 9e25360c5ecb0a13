package retry

import (
	"net/http"
	"strings"
	"time"
)

// Exhausted reads the providers' rate-limit headers of an answer (any status,
// a 200 included) and reports whether they say the key it was sent with has
// nothing left of some limit: a *-remaining header of 0 together with its
// *-reset (anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-*
// as RFC 3339 times, x-ratelimit-{remaining,reset}-{requests,tokens} as
// durations such as "1s" or "6m0s"). until is the latest such reset (the
// earliest time a new request can succeed), source the reset header that gave
// it. ok is false when no exhausted limit has a readable reset, or when the
// reset has already passed. The same header table as ParseServerWait is used.
// Exhausted is safe for concurrent use.
func Exhausted(h http.Header, now time.Time) (until time.Time, source string, ok bool) {
	for _, rh := range resetHeaders {
		if !exhausted(headerValue(h, rh.remainingKey)) {
			continue
		}
		v := headerValue(h, rh.resetKey)
		if v == "" {
			continue
		}
		var t time.Time
		if rh.rfc3339 {
			parsed, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
			if err != nil {
				continue
			}
			t = parsed
		} else {
			d, dok := parseGoDuration(v)
			if !dok {
				continue
			}
			t = now.Add(d)
		}
		if !t.After(now) {
			continue
		}
		if !ok || t.After(until) {
			until, source, ok = t, rh.reset, true
		}
	}
	return until, source, ok
}
