package cookiejar

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// openStore opens a store on path with a fake clock and captured log, and
// closes it at the end of the test.
func openStore(t *testing.T, opts Options) (*Store, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = lb.logger()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, lb
}

// runStore runs s.Run until the test ends and waits for it to return.
func runStore(t *testing.T, s *Store) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func readFileData(t *testing.T, path string) *fileOut {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeFile(data); err != nil {
		t.Fatalf("the saved file does not parse: %v", err)
	}
	var fd fileOut
	if err := json.Unmarshal(data, &fd); err != nil {
		t.Fatalf("the saved file does not parse: %v", err)
	}
	return &fd
}

func cookieNames(fd *fileOut, upstream string) []string {
	var names []string
	for _, c := range fd.Upstreams[upstream].Cookies {
		names = append(names, c.Name)
	}
	return names
}

// TestStoreSavesSoonAfterAChange measures the save latency with the default
// SaveDelay (1s): from SetCookies on the request path to the file on disk.
// The requirement is "on disk within 2s"; the figure is logged, not asserted
// as a speed target.
func TestStoreSavesSoonAfterAChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "clearway", "cookies.json") // folder does not exist yet
	ev := newSaveEvents()
	s, _ := openStore(t, Options{Path: path, OnSave: ev.onSave})
	runStore(t, s)

	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("folder: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	var latencies []time.Duration
	for i := range 3 {
		start := time.Now()
		s.Jar("anthropic").SetCookies(mustURL(t, "https://api.anthropic.com/v1/messages"),
			setCookies(t, fmt.Sprintf("__cf_bm=v%d; Path=/; Max-Age=1800; Secure; HttpOnly", i)))
		if _, err := os.Stat(path); i == 0 && err == nil {
			t.Fatal("SetCookies wrote the file itself: saving must not happen on the request path")
		}
		if err := ev.next(t, 10*time.Second); err != nil {
			t.Fatalf("save failed: %v", err)
		}
		latencies = append(latencies, time.Since(start))
		fd := readFileData(t, path)
		if got := fd.Upstreams["anthropic"].Cookies; len(got) != 1 || got[0].Value != fmt.Sprintf("v%d", i) {
			t.Fatalf("file holds %+v, want the new cookie", cookieNames(fd, "anthropic"))
		}
	}
	t.Logf("save latency with SaveDelay=%v: %v (requirement: within 2s)", DefaultSaveDelay, latencies)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	if got := s.SavedAt(); got.IsZero() || s.Dirty() {
		t.Errorf("SavedAt %v, Dirty %v after a save", got, s.Dirty())
	}
}

// TestStoreBurstIsOneWrite checks the debounce: many changes within
// SaveDelay (the default 1s; the burst takes milliseconds) give one save.
func TestStoreBurstIsOneWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.json")
	ev := newSaveEvents()
	s, _ := openStore(t, Options{Path: path, OnSave: ev.onSave})
	j := s.Jar("up")
	u := mustURL(t, "https://example.com/")
	runStore(t, s)
	for i := range 200 {
		j.SetCookies(u, setCookies(t, fmt.Sprintf("c=%d", i)))
	}
	if err := ev.next(t, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if s.Dirty() {
		// The burst ended before the timer fired, so one write holds it all.
		t.Fatal("still dirty after the debounced save")
	}
	select {
	case err := <-ev.ch:
		t.Errorf("a second save (%v) followed a burst that one save covered", err)
	default:
	}
	if got := readFileData(t, path).Upstreams["up"].Cookies; len(got) != 1 || got[0].Value != "199" {
		t.Errorf("file holds %+v", got)
	}
}

func TestStoreRunFlushesOnShutdown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.json")
	s, _ := openStore(t, Options{Path: path, SaveDelay: time.Hour})
	stop := runStore(t, s)
	s.Jar("up").SetCookies(mustURL(t, "https://example.com/"), setCookies(t, "late=1"))
	stop()
	if names := cookieNames(readFileData(t, path), "up"); len(names) != 1 || names[0] != "late" {
		t.Errorf("after shutdown the file holds %v, want [late]", names)
	}
}

func TestStoreCorruptFilesMovedAside(t *testing.T) {
	valid, err := encodeFile(time.Now(), map[string]fileUpstream{"up": {UserAgent: "UA/1", Cookies: []fileCookie{
		{Name: "a", Value: "1", Domain: "example.com", HostOnly: true, Path: "/"},
		{Name: "b", Value: "2", Domain: "example.com", HostOnly: true, Path: "/"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"not json":      []byte("this is not json"),
		"truncated":     valid[:len(valid)/2],
		"empty":         {},
		"whitespace":    []byte(" \n"),
		"wrong version": []byte(`{"version":2,"upstreams":{}}`),
		"no version":    []byte(`{"upstreams":{}}`),
		"null":          []byte("null"),
		"wrong type":    []byte(`{"version":1,"upstreams":{"up":{"cookies":{"a":1}}}}`),
		"trailing":      append(append([]byte{}, valid...), []byte("}garbage")...),
		"bad time":      []byte(`{"version":1,"upstreams":{"up":{"cookies":[{"name":"a","value":"SECRETVALUE","domain":"x.com","path":"/","expires":"SECRETVALUE"}]}}}`),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cookies.json")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			s, lb := openStore(t, Options{Path: path, Now: func() time.Time { return at }})
			if up := s.Upstreams(); len(up) != 0 {
				t.Errorf("store holds %v, want empty", up)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("bad file still at %s (err %v)", path, err)
			}
			moved := path + ".corrupt-20260304T050607Z"
			got, err := os.ReadFile(moved)
			if err != nil || string(got) != string(content) {
				t.Errorf("moved-aside file %s: %v, content kept: %v", moved, err, string(got) == string(content))
			}
			log := lb.String()
			if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "moved_to="+moved) {
				t.Errorf("warning missing or without the new place: %s", log)
			}
			if strings.Contains(log, "SECRETVALUE") {
				t.Errorf("the log quotes the file's content: %s", log)
			}
			// The store works and saves a fresh file.
			s.Jar("up").SetCookies(mustURL(t, "https://example.com/"), setCookies(t, "fresh=1"))
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if names := cookieNames(readFileData(t, path), "up"); len(names) != 1 {
				t.Errorf("new file holds %v", names)
			}
		})
	}

	t.Run("same second twice", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "cookies.json")
		at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
		for i := range 2 {
			os.WriteFile(path, []byte(fmt.Sprint("bad", i)), 0o600)
			openStore(t, Options{Path: path, Now: func() time.Time { return at }})
		}
		for _, p := range []string{path + ".corrupt-20260304T050607Z", path + ".corrupt-20260304T050607Z-2"} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("want %s: %v", p, err)
			}
		}
	})
}

func TestStoreMissingFileIsEmpty(t *testing.T) {
	s, lb := openStore(t, Options{Path: filepath.Join(t.TempDir(), "cookies.json")})
	if len(s.Upstreams()) != 0 || s.Dirty() || !s.SavedAt().IsZero() {
		t.Errorf("fresh store: upstreams %v dirty %v savedAt %v", s.Upstreams(), s.Dirty(), s.SavedAt())
	}
	if strings.Contains(lb.String(), "WARN") {
		t.Errorf("a missing file is normal, yet: %s", lb.String())
	}
}

func TestOpenFailsWhenTheFileCannotBeRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.json")
	if err := os.Mkdir(path, 0o700); err != nil { // a folder where the file should be
		t.Fatal(err)
	}
	if _, err := Open(Options{Path: path}); err == nil {
		t.Fatal("Open succeeded on a folder")
	} else {
		t.Logf("error: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the folder was touched: %v", err)
	}
}

func TestStoreExpiredDroppedOnLoadAndSave(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "cookies.json")
	now := clock.Now()
	data, err := encodeFile(now, map[string]fileUpstream{"up": {Cookies: []fileCookie{
		{Name: "expired", Value: "x", Domain: "example.com", HostOnly: true, Path: "/", Expires: now.Add(-time.Minute), Created: now.Add(-time.Hour)},
		{Name: "session", Value: "s", Domain: "example.com", HostOnly: true, Path: "/", Created: now.Add(-50 * time.Minute)},
		{Name: "soon", Value: "y", Domain: "example.com", HostOnly: true, Path: "/", Expires: now.Add(time.Minute), Created: now.Add(-40 * time.Minute)},
		{Name: "later", Value: "z", Domain: "example.com", HostOnly: true, Path: "/", Expires: now.Add(time.Hour), Created: now.Add(-30 * time.Minute)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data, 0o600)
	s, _ := openStore(t, Options{Path: path, Now: clock.Now})
	j := s.Jar("up")
	if got := cookieHeader(j.Cookies(mustURL(t, "https://example.com/"))); got != "session=s; soon=y; later=z" {
		t.Errorf("after load: %q (expired dropped, session kept, creation order kept)", got)
	}
	if !s.Dirty() {
		t.Error("load dropped a cookie but the store is not dirty: the file would keep it")
	}
	clock.Advance(2 * time.Minute)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if names := cookieNames(readFileData(t, path), "up"); strings.Join(names, ",") != "session,later" {
		t.Errorf("saved %v, want [session later] (the one that expired meanwhile dropped)", names)
	}
}

func TestStoreCaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.json")
	s, _ := openStore(t, Options{Path: path, MaxSessionCookies: 3, MaxCookies: 4})
	j := s.Jar("up")
	u := mustURL(t, "https://example.com/")
	for i := range 5 {
		j.SetCookies(u, setCookies(t, fmt.Sprintf("s%d=1", i)))
	}
	j.SetCookies(u, setCookies(t, "p0=1; Max-Age=3600", "p1=1; Max-Age=3600"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cookieNames(readFileData(t, path), "up"), ","); got != "s3,s4,p0,p1" {
		t.Errorf("saved %s, want s3,s4,p0,p1 (3 newest session cookies, then 4 newest overall)", got)
	}
	// A file over the caps (written with bigger ones) is cut on load.
	s2, _ := openStore(t, Options{Path: path, MaxSessionCookies: 1, MaxCookies: 2})
	if got := cookieHeader(s2.Jar("up").Cookies(u)); got != "p0=1; p1=1" {
		t.Errorf("loaded with smaller caps: %q", got)
	}
}

func TestStoreUserAgentPinPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.json")
	var changes []string
	s, _ := openStore(t, Options{Path: path, OnChange: func(up string) { changes = append(changes, up) }})
	if !s.PinUserAgent("anthropic", "claude-cli/1.0") {
		t.Fatal("first pin refused")
	}
	if s.PinUserAgent("anthropic", "other/2.0") || s.PinUserAgent("openai", "") {
		t.Error("a second pin, or an empty one, was accepted")
	}
	s.SetUserAgent("openai", "curl/8")
	s.SetUserAgent("openai", "curl/8.1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changes, ","); got != "anthropic,openai,openai" {
		t.Errorf("OnChange calls %s", got)
	}
	s2, _ := openStore(t, Options{Path: path})
	if got := s2.UserAgent("anthropic"); got != "claude-cli/1.0" {
		t.Errorf("pinned UA after reload %q", got)
	}
	if got := s2.UserAgent("openai"); got != "curl/8.1" {
		t.Errorf("set UA after reload %q", got)
	}
	if got := strings.Join(s2.Upstreams(), ","); got != "anthropic,openai" {
		t.Errorf("Upstreams %s", got)
	}
}

// TestStoreClearPersisted: Clear empties the jars and keeps the pinned
// User-Agents (a clearance earned next is bound to the pin); Unpin forgets
// them. Both reach the file.
func TestStoreClearPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cookies.json")
	u := mustURL(t, "https://example.com/")
	s, _ := openStore(t, Options{Path: path})
	for _, up := range []string{"a", "b", "c"} {
		s.Jar(up).SetCookies(u, setCookies(t, "k=1; Max-Age=3600"))
	}
	s.PinUserAgent("a", "UA")
	s.PinUserAgent("d", "UA-only")
	s.Close()

	s, _ = openStore(t, Options{Path: path})
	ja := s.Jar("a")
	s.Clear("a")
	if ja != s.Jar("a") || ja.Len() != 0 || s.UserAgent("a") != "UA" {
		t.Errorf("Clear(a): same jar %v, len %d, UA %q", ja == s.Jar("a"), ja.Len(), s.UserAgent("a"))
	}
	s.Close()
	s, _ = openStore(t, Options{Path: path})
	if s.Jar("a").Len() != 0 || s.Jar("b").Len() != 1 || s.UserAgent("a") != "UA" || s.UserAgent("d") != "UA-only" {
		t.Errorf("after Clear(a) and reload: a %d b %d uaA %q uaD %q", s.Jar("a").Len(), s.Jar("b").Len(), s.UserAgent("a"), s.UserAgent("d"))
	}
	s.Clear("")
	s.Close()
	fd := readFileData(t, path)
	if len(fd.Upstreams) != 2 || fd.Upstreams["a"].UserAgent != "UA" || len(fd.Upstreams["a"].Cookies) != 0 || fd.Upstreams["d"].UserAgent != "UA-only" {
		t.Errorf("after Clear(\"\") the file holds %v, want only the pinned User-Agents of a and d", fd.Upstreams)
	}
	s, _ = openStore(t, Options{Path: path})
	s.Unpin("a")
	if s.UserAgent("a") != "" || s.UserAgent("d") != "UA-only" {
		t.Errorf("Unpin(a): uaA %q uaD %q", s.UserAgent("a"), s.UserAgent("d"))
	}
	s.Unpin("")
	s.Close()
	fd = readFileData(t, path)
	if len(fd.Upstreams) != 0 {
		t.Errorf("after Unpin(\"\") the file holds %v", fd.Upstreams)
	}
}

// TestStoreSaveFailureIsReportedAndRetried forces failures (we are root, so
// a read-only folder would not stop us): the data folder is replaced by a
// regular file. Saves fail, OnSave hears each, Run retries with backoff; once
// the folder can be created again, the retry succeeds with no new change.
func TestStoreSaveFailureIsReportedAndRetried(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "clearway")
	path := filepath.Join(dataDir, "cookies.json")
	ev := newSaveEvents()
	s, lb := openStore(t, Options{Path: path, OnSave: ev.onSave, SaveDelay: 10 * time.Millisecond,
		MinRetryDelay: 5 * time.Millisecond, MaxRetryDelay: 40 * time.Millisecond})
	runStore(t, s)

	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dataDir, []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Jar("up").SetCookies(mustURL(t, "https://example.com/"), setCookies(t, "c=1"))
	failures := 0
	for ; failures < 4; failures++ {
		err := ev.next(t, 10*time.Second)
		if err == nil {
			t.Fatalf("save %d succeeded though %s is a file", failures+1, dataDir)
		}
		if failures == 0 {
			t.Logf("save error: %v", err)
		}
	}
	if err := os.Remove(dataDir); err != nil {
		t.Fatal(err)
	}
	for {
		err := ev.next(t, 10*time.Second)
		if err == nil {
			break
		}
		failures++ // a retry that was already under way
	}
	if names := cookieNames(readFileData(t, path), "up"); len(names) != 1 || names[0] != "c" {
		t.Errorf("after recovery the file holds %v", names)
	}
	// Run logs the recovery just after OnSave returns.
	waitFor(t, 10*time.Second, "the recovery log line", func() bool { return strings.Contains(lb.String(), "after failed attempts") })
	if !strings.Contains(lb.String(), "saving cookie jars failed") {
		t.Errorf("log lacks the failure: %s", lb.String())
	}
	t.Logf("%d failed attempts reported, then saved", failures)
}

func TestStoreRetryBackoff(t *testing.T) {
	s, _ := openStore(t, Options{})
	var got []time.Duration
	for n := 1; n <= 7; n++ {
		got = append(got, s.retryDelay(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %v, want 1s 2s 4s 8s 16s 30s 30s", got)
		}
	}
}

func TestStoreTightensLoosePermissionsAndRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.json")
	s, _ := openStore(t, Options{Path: path})
	s.Jar("up").SetCookies(mustURL(t, "https://example.com/"), setCookies(t, "c=1"))
	s.Close()
	os.Chmod(path, 0o644)
	stale := filepath.Join(dir, ".cookies.json1234567890")
	other := filepath.Join(dir, ".cookies.json.keep")
	os.WriteFile(stale, []byte("{"), 0o600)
	os.WriteFile(other, []byte("x"), 0o600)
	s, lb := openStore(t, Options{Path: path})
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after Open, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("unrelated file removed: %v", err)
	}
	if s.Jar("up").Len() != 1 || !strings.Contains(lb.String(), "restricted it to mode 0600") {
		t.Errorf("len %d, log %s", s.Jar("up").Len(), lb.String())
	}
}

func TestStoreMemoryOnly(t *testing.T) {
	ev := newSaveEvents()
	s, _ := openStore(t, Options{OnSave: ev.onSave})
	s.Jar("up").SetCookies(mustURL(t, "https://example.com/"), setCookies(t, "c=1"))
	if err := s.Flush(); err != nil || s.Dirty() {
		t.Errorf("Flush %v, Dirty %v", err, s.Dirty())
	}
	if len(ev.ch) != 0 {
		t.Error("a memory-only store reported a save")
	}
}

// TestStoreRestartWithRealClient is the end-to-end check over real HTTPS: an
// http.Client using a store's jar earns cookies (host-only, domain, Secure,
// HttpOnly, Max-Age, session) from a TLS upstream on loopback; the store is
// closed and opened again, as after a restart; a new client with the reloaded
// jar sends exactly the same Cookie headers.
func TestStoreRestartWithRealClient(t *testing.T) {
	var seen = make(chan string, 16)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/earn" {
			for _, c := range []string{
				"cf_clearance=clr; Domain=example.com; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=None",
				"__cf_bm=bm; Path=/; Max-Age=1800; Secure; HttpOnly",
				"session=s1; Path=/v1",
				"gone=x; Path=/",
			} {
				w.Header().Add("Set-Cookie", c)
			}
			return
		}
		if r.URL.Path == "/forget" {
			w.Header().Add("Set-Cookie", "gone=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
			return
		}
		seen <- r.Host + " " + r.Header.Get("Cookie")
	}))
	defer srv.Close()
	client := func(jar http.CookieJar) *http.Client {
		c := srv.Client()
		tr := c.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, ServerName: "example.com"}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
		}
		c.Transport = tr
		c.Jar = jar
		return c
	}
	get := func(c *http.Client, u string) string {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		select {
		case s := <-seen:
			return s
		default:
			return ""
		}
	}
	urls := []string{"https://api.example.com/v1/messages", "https://example.com/", "https://other.example.com/v2", "http://api.example.com/v1/x"}

	path := filepath.Join(t.TempDir(), "cookies.json")
	s, _ := openStore(t, Options{Path: path})
	c1 := client(s.Jar("anthropic"))
	get(c1, "https://api.example.com/earn")
	get(c1, "https://api.example.com/forget")
	var before []string
	for _, u := range urls[:3] {
		before = append(before, get(c1, u))
	}
	if !strings.Contains(before[0], "cf_clearance=clr") || !strings.Contains(before[0], "session=s1") || strings.Contains(before[0], "gone") {
		t.Fatalf("first run sends %q", before[0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, _ := openStore(t, Options{Path: path})
	c2 := client(s2.Jar("anthropic"))
	for i, u := range urls[:3] {
		if got := get(c2, u); got != before[i] {
			t.Errorf("%s after restart: %q, before: %q", u, got, before[i])
		}
	}
	// The Secure cookies are not offered over plain http (to a non-local host).
	for _, c := range s2.Jar("anthropic").Cookies(mustURL(t, urls[3])) {
		if c.Name == "cf_clearance" || c.Name == "__cf_bm" {
			t.Errorf("Secure cookie %s offered over http", c.Name)
		}
	}
	raw, _ := os.ReadFile(path)
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil || generic["version"] != float64(1) {
		t.Errorf("file is not versioned JSON: %v %v", err, generic["version"])
	}
	t.Logf("before and after restart: %q", before)
}
