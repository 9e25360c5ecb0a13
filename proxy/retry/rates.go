package retry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rates is what one answer's rate-limit headers say, read once (ReadRates)
// and then asked as often as needed: the limits for the status headroom and
// the usage record (Limits), whether the key has nothing left (Exhausted) and
// the reset part of the server's wait (ServerWait). The zero value states
// nothing. A Rates is a plain value: safe for concurrent reads.
type Rates struct {
	// Limits is what Headroom returns: every limit whose remaining count is
	// readable, in resetHeaders' order; nil when none is stated.
	Limits []Limit
	resets []statedReset // every reset header with a readable value
}

// statedReset is one parsed reset header of resetHeaders.
type statedReset struct {
	at        time.Time     // an RFC 3339 reset (rfc3339)
	d         time.Duration // a duration reset (!rfc3339), measured from the caller's now
	rfc3339   bool
	exhausted bool   // its *-remaining header says nothing is left
	source    string // the reset header's lowercase name
}

// ReadRates reads every rate-limit header of an answer once (see Headroom,
// Exhausted and ParseServerWait for what each reads). now measures the
// Limits' duration resets; the other answers take their own now. Safe for
// concurrent use.
func ReadRates(h http.Header, now time.Time) Rates {
	var r Rates
	for _, rh := range resetHeaders {
		rem := headerValue(h, rh.remainingKey)
		resetV := strings.TrimSpace(headerValue(h, rh.resetKey))
		var (
			sr      statedReset
			resetOK bool
		)
		if resetV != "" {
			sr = statedReset{rfc3339: rh.rfc3339, source: rh.reset}
			if rh.rfc3339 {
				t, err := time.Parse(time.RFC3339, resetV)
				sr.at, resetOK = t, err == nil
			} else {
				sr.d, resetOK = parseGoDuration(resetV)
			}
			if resetOK {
				sr.exhausted = exhausted(rem)
				r.resets = append(r.resets, sr)
			}
		}
		if rem == "" {
			continue // not stated: skip the parse and its error value
		}
		n, err := strconv.ParseInt(strings.TrimSpace(rem), 10, 64)
		if err != nil || n < 0 {
			continue
		}
		l := Limit{Name: rh.name, Remaining: n}
		if v := headerValue(h, rh.limitKey); v != "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
				l.Limit = n
			}
		}
		if resetOK {
			if rh.rfc3339 {
				l.Reset = sr.at
			} else {
				l.Reset = now.Add(sr.d)
			}
		}
		r.Limits = append(r.Limits, l)
	}
	return r
}

// Exhausted is the package function Exhausted over the headers r was read
// from, at now.
func (r Rates) Exhausted(now time.Time) (until time.Time, source string, ok bool) {
	for _, sr := range r.resets {
		if !sr.exhausted {
			continue
		}
		t := sr.at
		if !sr.rfc3339 {
			t = now.Add(sr.d)
		}
		if !t.After(now) {
			continue
		}
		if !ok || t.After(until) {
			until, source, ok = t, sr.source, true
		}
	}
	return until, source, ok
}

// resetWait is the third rule of ParseServerWait (the provider reset
// headers) over the headers r was read from, at now.
func (r Rates) resetWait(now time.Time) (time.Duration, string, bool) {
	var (
		best, bestExhausted       time.Duration
		bestSrc, bestExhaustedSrc string
	)
	for _, sr := range r.resets {
		d, ok := sr.d, true
		if sr.rfc3339 {
			d, ok = untilTime(sr.at, now)
		}
		if !ok {
			continue
		}
		if bestSrc == "" || d > best {
			best, bestSrc = d, sr.source
		}
		if sr.exhausted && (bestExhaustedSrc == "" || d > bestExhausted) {
			bestExhausted, bestExhaustedSrc = d, sr.source
		}
	}
	if bestExhaustedSrc != "" {
		return bestExhausted, bestExhaustedSrc, true
	}
	if bestSrc != "" {
		return best, bestSrc, true
	}
	return 0, "", false
}
