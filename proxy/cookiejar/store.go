package cookiejar

import (
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clearway/clearway/internal/privdir"
)

// Defaults of Options.
const (
	DefaultSaveDelay     = time.Second
	DefaultMinRetryDelay = time.Second
	DefaultMaxRetryDelay = 30 * time.Second
)

// Options configure Open. The zero value is a store kept in memory only, with
// the defaults below.
type Options struct {
	// Path is the jar file, normally $XDG_DATA_HOME/clearway/cookies.json. Empty keeps everything
	// in memory (nothing is read or written): a fallback when the data folder
	// cannot be used, and handy in tests of other packages.
	Path string
	// Now is the clock for cookie expiry, creation times, saved_at and the
	// name of a moved-aside file; nil means time.Now.
	Now func() time.Time
	// SaveDelay is how long Run waits after a change before saving, so a
	// burst of changes costs one write; 0 means DefaultSaveDelay (1s, which
	// keeps a change on disk within 2s).
	SaveDelay time.Duration
	// MaxSessionCookies caps the cookies without expiry per upstream; the
	// oldest go first. 0 means DefaultMaxSessionCookies, negative no cap.
	MaxSessionCookies int
	// MaxCookies caps all cookies per upstream; the oldest go first.
	// 0 means DefaultMaxCookies, negative no cap.
	MaxCookies int
	// MaxCookieSize and MaxBytes bound each upstream's jar as
	// JarOptions' fields of the same names do (0: 4096 bytes per cookie,
	// 256 KiB per upstream).
	MaxCookieSize, MaxBytes int
	// MinRetryDelay and MaxRetryDelay bound the backoff after a failed save
	// (doubling from Min up to Max); 0 means 1s and 30s.
	MinRetryDelay, MaxRetryDelay time.Duration
	// Logger receives warnings (a file moved aside, a failed save) and debug
	// lines; never a cookie value. Nil means slog.Default().
	Logger *slog.Logger
	// OnSave, if set, is called after each attempt to write the file, with
	// nil when it was saved (publish CookiesSaved / SaveFailed from here).
	// It is called without locks held, from Run's goroutine or Flush's caller.
	OnSave func(err error)
	// OnChange, if set, is called without locks held when an upstream's
	// cookies or pinned User-Agent change, from the goroutine that changed
	// them (often a request's: keep it quick and non-blocking).
	OnChange func(upstream string)
}

// Store owns every upstream's Jar, the User-Agent pinned per upstream, and
// the file they are saved to. Changes only mark the store dirty and wake Run,
// which writes the file (debounced, atomically, never on the request path).
//
// A Store is safe for concurrent use. Open is the only way to get one; the
// zero value is not usable. Only one Store (one process) should own a file at
// a time: the caller holds the instance lock.
type Store struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex // guards jars, uas, savedAt
	jars    map[string]*Jar
	uas     map[string]string
	savedAt time.Time

	gen  atomic.Uint64 // bumped by every change
	kick chan struct{} // wakes Run; capacity 1, sends never block

	ioMu     sync.Mutex    // serialises saves
	savedGen atomic.Uint64 // gen the file last matched; written under ioMu
}

// Open loads the store from opts.Path. A missing file gives an empty store.
// A file that does not parse (not JSON, torn, empty, another version) is
// renamed to <path>.corrupt-<UTC time, 20060102T150405Z>, a warning says so and
// where, and the store starts empty: that is not an error. Expired cookies are
// dropped. The folder is created with mode 0700 if missing (an existing one
// keeps its mode); temporary files left by a save that was killed are removed.
//
// Open fails only when the file exists but cannot be read (permissions, a
// folder in its place) or the folder cannot be created; the caller may then
// go on with Open(Options{}) (memory only) and tell the user.
func Open(opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SaveDelay <= 0 {
		opts.SaveDelay = DefaultSaveDelay
	}
	if opts.MinRetryDelay <= 0 {
		opts.MinRetryDelay = DefaultMinRetryDelay
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if opts.MaxRetryDelay < opts.MinRetryDelay {
		opts.MaxRetryDelay = opts.MinRetryDelay
	}
	s := &Store{
		opts: opts,
		log:  opts.Logger,
		jars: make(map[string]*Jar),
		uas:  make(map[string]string),
		kick: make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.Path == "" {
		return s, nil
	}
	if _, err := privdir.Ensure(filepath.Dir(opts.Path)); err != nil {
		return nil, fmt.Errorf("folder for cookie jars: %w", err)
	}
	removeStaleTemps(opts.Path, s.log)
	data, err := readFile(opts.Path, s.log)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return s, nil // no file yet
	}
	var fd *fileData
	if len(data) > maxFileSize {
		err = fmt.Errorf("the file is larger than %d bytes", maxFileSize)
	} else {
		fd, err = decodeFile(data)
	}
	data = nil // the decoded upstreams hold what is needed
	if err != nil {
		moveAside(opts.Path, opts.Now(), err, s.log)
		return s, nil
	}
	dropped, bad := s.apply(fd)
	if dropped {
		s.markDirty() // rewrite without what was dropped
	}
	if len(bad) > 0 {
		// The other upstreams keep their cookies; the file as it was is
		// kept aside so nothing is lost, and the next save rewrites it.
		moveAside(opts.Path, opts.Now(), fmt.Errorf("the jars of %s do not parse; the other upstreams' jars were loaded", strings.Join(bad, ", ")), s.log)
		s.markDirty()
	}
	return s, nil
}

// apply fills an empty store from a decoded file, one upstream at a time:
// an upstream whose part does not parse is left out and named in bad, and
// costs no other upstream its cookies. When anything was dropped (expired,
// invalid, over a cap) it reports dropped.
func (s *Store) apply(fd *fileData) (dropped bool, bad []string) {
	s.savedAt = normalTime(fd.SavedAt)
	invalid := 0
	for _, name := range slices.Sorted(maps.Keys(fd.Upstreams)) {
		var up fileUpstream
		err := decodeUpstream(fd.Upstreams[name], &up)
		fd.Upstreams[name] = nil // let the raw bytes go as we go
		if err != nil {
			s.log.Warn("cookie jar of one upstream does not parse; skipped it", "path", s.opts.Path,
				"upstream", strconv.Quote(truncateName(name)), "reason", err.Error())
			bad = append(bad, strconv.Quote(truncateName(name)))
			continue
		}
		if name == "" {
			invalid += len(up.Cookies)
			continue
		}
		if up.UserAgent != "" {
			s.uas[name] = up.UserAgent
		}
		recs := make([]Record, 0, len(up.Cookies))
		for _, c := range up.Cookies {
			if !c.valid() {
				invalid++
				continue
			}
			recs = append(recs, c.record())
		}
		if len(up.Cookies) == 0 {
			continue
		}
		if kept := s.Jar(name).load(recs); kept != len(up.Cookies) {
			dropped = true
		}
	}
	if invalid > 0 {
		s.log.Warn("cookie jar file holds invalid cookies; skipped them", "path", s.opts.Path, "count", invalid)
	}
	return dropped || invalid > 0, bad
}

// truncateName shortens an upstream name read from the file for a log line.
func truncateName(name string) string {
	if len(name) > 64 {
		return name[:64] + "..."
	}
	return name
}

// Jar returns upstream's jar, creating an empty one on first use; later calls
// return the same pointer. upstream must not be empty (Clear("") means all).
func (s *Store) Jar(upstream string) *Jar {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jars[upstream]; ok {
		return j
	}
	j := newJar(JarOptions{
		Now:               s.opts.Now,
		MaxCookies:        s.opts.MaxCookies,
		MaxSessionCookies: s.opts.MaxSessionCookies,
		MaxCookieSize:     s.opts.MaxCookieSize,
		MaxBytes:          s.opts.MaxBytes,
	}, func() { s.changed(upstream) })
	s.jars[upstream] = j
	return j
}

// UserAgent returns the User-Agent pinned for upstream, "" if none. A
// clearance cookie is bound to the User-Agent it was earned with, so the proxy
// sends this one whatever the client sends.
func (s *Store) UserAgent(upstream string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uas[upstream]
}

// PinUserAgent pins ua for upstream unless one is pinned already; it reports
// whether it pinned ua. An empty ua pins nothing.
func (s *Store) PinUserAgent(upstream, ua string) bool {
	if ua == "" {
		return false
	}
	s.mu.Lock()
	if s.uas[upstream] != "" {
		s.mu.Unlock()
		return false
	}
	s.uas[upstream] = ua
	s.mu.Unlock()
	s.changed(upstream)
	return true
}

// SetUserAgent pins ua for upstream, replacing any pinned one; "" unpins.
func (s *Store) SetUserAgent(upstream, ua string) {
	s.mu.Lock()
	old := s.uas[upstream]
	if ua == "" {
		delete(s.uas, upstream)
	} else {
		s.uas[upstream] = ua
	}
	s.mu.Unlock()
	if old != ua {
		s.changed(upstream)
	}
}

// Upstreams returns, sorted, the upstreams that have a jar or a pinned
// User-Agent.
func (s *Store) Upstreams() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := make(map[string]bool, len(s.jars)+len(s.uas))
	for name := range s.jars {
		set[name] = true
	}
	for name := range s.uas {
		set[name] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// Clear forgets upstream's cookies ("" clears every upstream). The pinned
// User-Agent stays: the clearance earned next is bound to it and saved with
// it, so it must not change under a running session (Unpin forgets it). Jars
// stay the same pointers, now empty. The change is saved like any other.
func (s *Store) Clear(upstream string) {
	s.mu.Lock()
	var jars map[string]*Jar
	if upstream == "" {
		jars = maps.Clone(s.jars)
	} else if j, ok := s.jars[upstream]; ok {
		jars = map[string]*Jar{upstream: j}
	}
	s.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(jars)) {
		if jars[name].clear() {
			s.changed(name)
		}
	}
}

// Unpin forgets the User-Agent pinned for upstream ("" unpins every
// upstream), so the next client's User-Agent is pinned instead. A clearance
// cookie earned with the old one will be refused: clear the cookies too.
func (s *Store) Unpin(upstream string) {
	s.mu.Lock()
	var names []string
	for name := range s.uas {
		if upstream == "" || name == upstream {
			names = append(names, name)
		}
	}
	for _, name := range names {
		delete(s.uas, name)
	}
	s.mu.Unlock()
	slices.Sort(names)
	for _, name := range names {
		s.changed(name)
	}
}

// SavedAt returns when the file was last written (by this process, or as
// recorded in the file it loaded); zero if never.
func (s *Store) SavedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.savedAt
}

// Path returns the file the store saves to ("" when in memory only).
func (s *Store) Path() string { return s.opts.Path }

// Dirty reports whether there are changes not yet on disk.
func (s *Store) Dirty() bool {
	return s.gen.Load() != s.savedGen.Load()
}

// changed marks the store dirty, wakes the saver and tells OnChange.
func (s *Store) changed(upstream string) {
	s.markDirty()
	if s.opts.OnChange != nil {
		s.opts.OnChange(upstream)
	}
}

// markDirty bumps the change counter and wakes Run without blocking.
func (s *Store) markDirty() {
	s.gen.Add(1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// snapshot renders the current state for the file: per upstream its pinned
// User-Agent and unexpired cookies oldest first. Upstreams with neither are
// left out. It holds each lock only while copying.
func (s *Store) snapshot(now time.Time) map[string]fileUpstream {
	s.mu.Lock()
	jars := maps.Clone(s.jars)
	uas := maps.Clone(s.uas)
	s.mu.Unlock()
	out := make(map[string]fileUpstream, len(jars)+len(uas))
	for name, j := range jars {
		recs := j.byCreation(now)
		if len(recs) == 0 && uas[name] == "" {
			continue
		}
		out[name] = fileUpstream{UserAgent: uas[name], Cookies: sortedCookies(recs)}
	}
	for name, ua := range uas {
		if _, ok := out[name]; !ok {
			out[name] = fileUpstream{UserAgent: ua, Cookies: []fileCookie{}}
		}
	}
	return out
}
