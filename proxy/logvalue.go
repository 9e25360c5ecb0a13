package proxy

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLogValue bounds a client-controlled value in a log line, quotes
// included: a client must not be able to grow the log by more than a few
// hundred bytes per request, nor forge lines or terminal escapes in it.
const maxLogValue = 200

// clientValue renders s, which a client chose (a Host, a path, an Origin,
// a model name), for a log line: quoted with Go escapes (no raw newlines or
// control bytes) and cut so the result is at most maxLogValue bytes, with
// "..." after the quote when something was cut.
func clientValue(s string) string {
	q := strconv.Quote(s)
	if len(q) <= maxLogValue {
		return q
	}
	// Escapes make the quoted form longer than the input: cut, quote, and
	// cut further by the excess until it fits (a few rounds at most).
	n := min(len(s), maxLogValue)
	for {
		n = max(n, 0)
		for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		q = strconv.Quote(s[:n]) + "..."
		if len(q) <= maxLogValue {
			return q
		}
		n -= len(q) - maxLogValue
	}
}

// refusalLog rate-limits the warnings for refused requests: per kind, one
// line per interval; the lines refused in between are counted and the next
// line says how many were suppressed. A flood of refusals thus costs the
// log a line a minute, not a line a request. Its zero value is not usable:
// get one from newRefusalLog. Safe for concurrent use.
type refusalLog struct {
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	kinds map[string]*refusalKind
}

type refusalKind struct {
	last       time.Time
	suppressed int
}

// refusalInterval is how often each kind of refusal is logged at most.
const refusalInterval = time.Minute

func newRefusalLog(interval time.Duration, now func() time.Time) *refusalLog {
	return &refusalLog{interval: interval, now: now, kinds: map[string]*refusalKind{}}
}

// allow reports whether a refusal of kind may be logged now and, if so, how
// many of that kind were suppressed since the last line.
func (l *refusalLog) allow(kind string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.kinds[kind]
	if k == nil {
		k = &refusalKind{}
		l.kinds[kind] = k
	} else if now.Sub(k.last) < l.interval {
		k.suppressed++
		return false, 0
	}
	suppressed, k.suppressed, k.last = k.suppressed, 0, now
	return true, suppressed
}
