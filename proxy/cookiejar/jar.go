package cookiejar

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Default caps of a jar; see JarOptions.
const (
	DefaultMaxCookies        = 1000
	DefaultMaxSessionCookies = 200
	// DefaultMaxCookieSize is the largest cookie (name + value, in bytes)
	// a jar keeps: the 4096 bytes RFC 6265 section 6.1 asks user agents to
	// support at least, and what browsers keep. A larger one is dropped, as
	// browsers drop it.
	DefaultMaxCookieSize = 4096
	// DefaultMaxBytes is the byte budget of one jar (the sum of every
	// cookie's name, value, domain and path). Beyond it the oldest cookies
	// other than Cloudflare's clearance go first, so one upstream that sends
	// many large cookies can neither fill the disk nor the memory.
	DefaultMaxBytes = 256 << 10
)

// clearanceCookie is the cookie a byte budget drops last: losing it costs
// a new Cloudflare challenge.
const clearanceCookie = "cf_clearance"

// JarOptions configure a jar (Store.Jar builds them). The zero value uses time.Now and the default
// caps.
type JarOptions struct {
	// Now is the clock for expiry and creation times; nil means time.Now.
	// The standard jar underneath always uses the wall clock, so a Now that
	// runs ahead of it (tests) expires cookies early; one that lags does not
	// keep them longer.
	Now func() time.Time
	// MaxCookies caps the cookies kept; the oldest are dropped first.
	// 0 means DefaultMaxCookies, negative means no cap.
	MaxCookies int
	// MaxSessionCookies caps the cookies without expiry; the oldest are
	// dropped first. 0 means DefaultMaxSessionCookies, negative means no cap.
	MaxSessionCookies int
	// MaxCookieSize drops a cookie whose name and value together are longer
	// (in bytes). 0 means DefaultMaxCookieSize, negative means no cap.
	MaxCookieSize int
	// MaxBytes is the jar's byte budget (see DefaultMaxBytes); the oldest
	// non-clearance cookies are dropped first. 0 means DefaultMaxBytes,
	// negative means no budget.
	MaxBytes int
}

// Jar is one upstream's http.CookieJar. SetCookies and Cookies delegate to a
// standard net/http/cookiejar.Jar (RFC 6265, public suffix list), and
// SetCookies also records what was stored: the domain and host-only flag
// resolved as RFC 6265 says, the path, the expiry from Max-Age or Expires, and
// deletions (Max-Age < 0, Expires in the past). Records returns that record;
// Add (and a Store when it loads) replays records into the standard jar, which
// then matches exactly as it did when the cookies were first set.
//
// A Jar is safe for concurrent use. Its zero value is not usable: get one from
// Store.Jar.
type Jar struct {
	now        func() time.Time
	maxCookies int
	maxSession int
	maxSize    int
	maxBytes   int
	onChange   func() // set at construction, never changed; nil for none

	mu          sync.RWMutex
	std         *cookiejar.Jar
	recs        map[recordKey]Record
	nSession    int       // session records in recs
	nBytes      int       // sum of recs' size()
	lastCreated time.Time // Created of the newest record; creation stamps strictly increase
	nextExpiry  time.Time // no record expires before this; zero: none expires

	// count and expiryNanos mirror len(recs) and nextExpiry (UnixNano, 0:
	// none) for Count, which the request path calls on every attempt (the
	// dashboard's cookie count) without taking mu. Written under mu.
	count       atomic.Int64
	expiryNanos atomic.Int64
}

// newJar returns an empty jar; onChange (may be nil) is called after every
// change (the Store marks itself dirty).
func newJar(opts JarOptions, onChange func()) *Jar {
	j := &Jar{
		now:        opts.Now,
		maxCookies: opts.MaxCookies,
		maxSession: opts.MaxSessionCookies,
		maxSize:    opts.MaxCookieSize,
		maxBytes:   opts.MaxBytes,
		onChange:   onChange,
	}
	if j.maxSize == 0 {
		j.maxSize = DefaultMaxCookieSize
	}
	if j.maxBytes == 0 {
		j.maxBytes = DefaultMaxBytes
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.maxCookies == 0 {
		j.maxCookies = DefaultMaxCookies
	}
	if j.maxSession == 0 {
		j.maxSession = DefaultMaxSessionCookies
	}
	j.resetLocked()
	return j
}

// newStdJar returns an empty standard jar with the public suffix list.
func newStdJar() *cookiejar.Jar {
	std, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: psl}) // never fails
	return std
}

func (j *Jar) resetLocked() {
	j.std = newStdJar()
	j.recs = make(map[recordKey]Record)
	j.nSession = 0
	j.nBytes = 0
	j.nextExpiry = time.Time{}
	j.publishLocked()
}

// publishLocked mirrors the record count and the next expiry into the
// atomics Count reads. Called after every change of recs or nextExpiry.
func (j *Jar) publishLocked() {
	j.count.Store(int64(len(j.recs)))
	var ns int64
	if !j.nextExpiry.IsZero() {
		ns = j.nextExpiry.UnixNano()
	}
	j.expiryNanos.Store(ns)
}

// SetCookies implements http.CookieJar: it stores cookies received from u
// in the standard jar and records them. It does no I/O: a Store only marks
// itself dirty and wakes its saver.
func (j *Jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if len(cookies) == 0 {
		return
	}
	j.mu.Lock()
	changed := j.setLocked(u, cookies, j.now(), false, time.Time{})
	j.mu.Unlock()
	if changed {
		j.changed()
	}
}

// Cookies implements http.CookieJar: the cookies to send to u, in the
// standard jar's order (longest path first, then oldest first).
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	now := j.now()
	j.mu.RLock()
	std := j.std
	due := !j.nextExpiry.IsZero() && !now.Before(j.nextExpiry)
	j.mu.RUnlock()
	if due {
		j.mu.Lock()
		j.sweepLocked(now)
		std = j.std
		j.mu.Unlock()
	}
	return std.Cookies(u)
}

// Records returns the jar's current cookies (expired ones left out), sorted
// by domain, path and name.
func (j *Jar) Records() []Record {
	j.mu.Lock()
	j.sweepLocked(j.now())
	out := make([]Record, 0, len(j.recs))
	for _, r := range j.recs {
		out = append(out, r)
	}
	j.mu.Unlock()
	slices.SortFunc(out, compareRecords)
	return out
}

// byCreation returns the current cookies oldest first (the order a replay
// must follow to rebuild the same Cookie header order).
func (j *Jar) byCreation(now time.Time) []Record {
	j.mu.Lock()
	j.sweepLocked(now)
	out := make([]Record, 0, len(j.recs))
	for _, r := range j.recs {
		out = append(out, r)
	}
	j.mu.Unlock()
	slices.SortFunc(out, func(a, b Record) int { return a.Created.Compare(b.Created) })
	return out
}

// Len returns the number of current (unexpired) cookies.
func (j *Jar) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sweepLocked(j.now())
	return len(j.recs)
}

// Count is Len without the lock when no cookie may have expired since the
// last change (the common case): an atomic load and a clock read. When one
// may have, it is Len (which sweeps). Safe for concurrent use.
func (j *Jar) Count() int {
	if due := j.expiryNanos.Load(); due != 0 && j.now().UnixNano() >= due {
		return j.Len()
	}
	return int(j.count.Load())
}

// Clear forgets every cookie (and, for a Store's jar, schedules a save).
func (j *Jar) Clear() {
	if j.clear() {
		j.changed()
	}
}

// clear empties the jar without notifying; it reports whether it held any.
func (j *Jar) clear() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	had := len(j.recs) > 0
	j.resetLocked()
	return had
}

// Add imports records (from a cookies.txt, say), merging them into the jar:
// each replaces the cookie with the same domain, path and name. Domain may
// carry a leading dot; an empty Path means "/". Records that are already
// expired, have no name or domain, or that the standard jar refuses (a
// malformed domain) are skipped; a domain cookie for a public suffix ("com")
// becomes a host-only cookie for that name, as the standard jar makes it, and
// so reaches no real host. Use MatchesHost first to pick an upstream's
// cookies. Created is not imported: new
// cookies count as created now, in the order of their Created, then of recs.
// Add returns how many records the jar now holds from recs.
func (j *Jar) Add(recs []Record) int {
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b Record) int { return a.Created.Compare(b.Created) })
	j.mu.Lock()
	now := j.now()
	stored, changed := 0, false
	for _, r := range sorted {
		r.Domain = strings.TrimPrefix(r.Domain, ".")
		if r.Name == "" || r.Domain == "" || r.Expired(now) {
			continue
		}
		ok, ch := j.replayLocked(r, now, false)
		if ok {
			stored++
		}
		changed = changed || ch
	}
	j.mu.Unlock()
	if changed {
		j.changed()
	}
	return stored
}

// load replays records read from the file into the jar, keeping their
// creation times. It returns how many it kept; the others were expired,
// invalid, or over a cap. It does not notify.
func (j *Jar) load(recs []Record) int {
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b Record) int { return a.Created.Compare(b.Created) })
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	for _, r := range sorted {
		if r.Name == "" || r.Domain == "" || r.Expired(now) {
			continue
		}
		j.replayLocked(r, now, true)
	}
	j.sweepLocked(now)
	return len(j.recs)
}

// replayLocked stores r through the same path as SetCookies. It reports
// whether the jar holds r's cookie afterwards and whether anything changed.
func (j *Jar) replayLocked(r Record, now time.Time, keepCreated bool) (stored, changed bool) {
	u, c := r.replayURL(), r.replayCookie()
	host, err := canonicalHost(u.Host)
	if err != nil {
		return false, false
	}
	resolved, remove, err := newRecord(c, now, defaultPath(u.Path), host)
	if err != nil || remove {
		return false, false
	}
	changed = j.setLocked(u, []*http.Cookie{c}, now, keepCreated, r.Created)
	_, stored = j.recs[resolved.key()]
	return stored, changed
}

// setLocked stores cookies received from u in the standard jar and records
// them. With keepCreated, a new cookie gets created (if non-zero) as its
// creation time instead of now. It reports whether the records changed.
func (j *Jar) setLocked(u *url.URL, cookies []*http.Cookie, now time.Time, keepCreated bool, created time.Time) (changed bool) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	host, err := canonicalHost(u.Host)
	if err != nil {
		return false
	}
	defPath := defaultPath(u.Path)
	if j.maxSize > 0 && slices.ContainsFunc(cookies, j.oversized) {
		// Dropped before the standard jar sees them, as a browser drops them:
		// an existing cookie of that name stays as it was.
		cookies = slices.DeleteFunc(slices.Clone(cookies), j.oversized)
		if len(cookies) == 0 {
			return false
		}
	}
	j.std.SetCookies(u, cookies)
	for _, c := range cookies {
		if c == nil {
			continue
		}
		rec, remove, err := newRecord(c, now, defPath, host)
		if err != nil {
			continue // the standard jar ignored it too
		}
		k := rec.key()
		old, exists := j.recs[k]
		if remove {
			if exists {
				j.deleteLocked(k, old)
				changed = true
			}
			continue
		}
		switch {
		case exists:
			rec.Created = old.Created // as the standard jar keeps the creation time
		case keepCreated && !created.IsZero():
			rec.Created = j.stamp(created)
		default:
			rec.Created = j.stamp(now)
		}
		if exists && sameCookie(old, rec) {
			continue
		}
		j.putLocked(k, rec, old, exists)
		changed = true
	}
	if changed {
		j.capLocked(now)
	}
	return changed
}

// oversized reports whether c is nil or larger than the cookie size cap.
func (j *Jar) oversized(c *http.Cookie) bool {
	return c == nil || (j.maxSize > 0 && len(c.Name)+len(c.Value) > j.maxSize)
}

// stamp returns t as a creation time strictly after every earlier one, so
// creation order is a total order that a replay reproduces.
func (j *Jar) stamp(t time.Time) time.Time {
	t = normalTime(t)
	if !t.After(j.lastCreated) {
		t = j.lastCreated.Add(time.Nanosecond)
	}
	j.lastCreated = t
	return t
}

func (j *Jar) putLocked(k recordKey, rec, old Record, exists bool) {
	if exists {
		j.nBytes -= old.size()
		if old.Session() {
			j.nSession--
		}
	}
	j.recs[k] = rec
	j.nBytes += rec.size()
	if rec.Session() {
		j.nSession++
	} else if j.nextExpiry.IsZero() || rec.Expires.Before(j.nextExpiry) {
		j.nextExpiry = rec.Expires
	}
	j.publishLocked()
}

func (j *Jar) deleteLocked(k recordKey, rec Record) {
	delete(j.recs, k)
	j.nBytes -= rec.size()
	if rec.Session() {
		j.nSession--
	}
	j.publishLocked()
}

// dropLocked removes rec from the records and from the standard jar.
func (j *Jar) dropLocked(rec Record) {
	j.deleteLocked(rec.key(), rec)
	j.std.SetCookies(rec.replayURL(), []*http.Cookie{rec.deletionCookie()})
}

// sweepLocked drops the cookies expired at now (by the injected clock) from
// the records and the standard jar, when any may have expired.
func (j *Jar) sweepLocked(now time.Time) {
	if j.nextExpiry.IsZero() || now.Before(j.nextExpiry) {
		return
	}
	next := time.Time{}
	for _, r := range j.recs {
		if r.Session() {
			continue
		}
		if r.Expired(now) {
			j.dropLocked(r)
			continue
		}
		if next.IsZero() || r.Expires.Before(next) {
			next = r.Expires
		}
	}
	j.nextExpiry = next
	j.publishLocked()
}

// capLocked enforces the caps, dropping the oldest cookies first.
func (j *Jar) capLocked(now time.Time) {
	overSession := j.maxSession > 0 && j.nSession > j.maxSession
	overAll := j.maxCookies > 0 && len(j.recs) > j.maxCookies
	overBytes := j.maxBytes > 0 && j.nBytes > j.maxBytes
	if !overSession && !overAll && !overBytes {
		return
	}
	j.sweepLocked(now)
	if j.maxSession > 0 && j.nSession > j.maxSession {
		var session []Record
		for _, r := range j.recs {
			if r.Session() {
				session = append(session, r)
			}
		}
		slices.SortFunc(session, func(a, b Record) int { return a.Created.Compare(b.Created) })
		for _, r := range session[:j.nSession-j.maxSession] {
			j.dropLocked(r)
		}
	}
	if j.maxCookies > 0 && len(j.recs) > j.maxCookies {
		all := make([]Record, 0, len(j.recs))
		for _, r := range j.recs {
			all = append(all, r)
		}
		slices.SortFunc(all, func(a, b Record) int { return a.Created.Compare(b.Created) })
		for _, r := range all[:len(all)-j.maxCookies] {
			j.dropLocked(r)
		}
	}
	if j.maxBytes > 0 && j.nBytes > j.maxBytes {
		all := make([]Record, 0, len(j.recs))
		for _, r := range j.recs {
			all = append(all, r)
		}
		// Clearance cookies last, then oldest first.
		slices.SortFunc(all, func(a, b Record) int {
			if ac, bc := a.Name == clearanceCookie, b.Name == clearanceCookie; ac != bc {
				if ac {
					return 1
				}
				return -1
			}
			return a.Created.Compare(b.Created)
		})
		for _, r := range all {
			if j.nBytes <= j.maxBytes {
				break
			}
			j.dropLocked(r)
		}
	}
}

func (j *Jar) changed() {
	if j.onChange != nil {
		j.onChange()
	}
}
