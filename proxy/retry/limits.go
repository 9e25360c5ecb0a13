package retry

import (
	"net/http"
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
	return ReadRates(h, now).Exhausted(now)
}
