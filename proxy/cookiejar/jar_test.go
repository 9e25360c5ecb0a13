package cookiejar

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	stdjar "net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// roundTrip saves j's records the way a Store does (JSON file format) and
// loads them into a fresh jar, as Open does after a restart.
func roundTrip(t testing.TB, j *Jar) *Jar {
	t.Helper()
	now := j.now()
	data, err := encodeFile(now, map[string]fileUpstream{"up": {Cookies: sortedCookies(j.byCreation(now))}})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := decodeFile(data)
	if err != nil {
		t.Fatalf("decode what was just encoded: %v", err)
	}
	s, err := Open(Options{Now: j.now, MaxCookies: -1, MaxSessionCookies: -1})
	if err != nil {
		t.Fatal(err)
	}
	if dropped, _ := s.apply(fd); dropped {
		t.Errorf("replay dropped cookies that were current when saved")
	}
	return s.Jar("up")
}

var (
	diffHosts = []string{
		"example.com", "www.example.com", "a.b.example.com", "EXAMPLE.org", "www.example.org.",
		"example.co.uk", "foo.example.co.uk", "co.uk", "com", "127.0.0.1", "[::1]", "localhost",
		"bücher.example", "api.bücher.example", "example.com:8443",
	}
	diffPaths   = []string{"", "/", "/a", "/a/", "/a/b", "/a/b/c", "/b", "/a/bc"}
	diffDomains = []string{
		"", "", "", "example.com", ".example.com", "www.example.com", "EXAMPLE.COM", "co.uk",
		"example.co.uk", "com", "127.0.0.1", "other.com", "..example.com", "example.com.",
		"example.org", "b.example.com", "xn--bcher-kva.example", "localhost",
	}
	diffCookiePaths = []string{"", "", "/", "/a", "/a/", "/a/b", "a", "/b"}
	diffNames       = []string{"a", "b", "cf_clearance", "__cf_bm", "s"}
)

// randomSetCookie builds a Set-Cookie line with random attributes, some
// invalid, some deleting.
func randomSetCookie(rng *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s=v%d", diffNames[rng.IntN(len(diffNames))], i)
	if rng.IntN(8) == 0 {
		fmt.Fprintf(&b, `"q"`)
		b.Reset()
		fmt.Fprintf(&b, `%s="v%d"`, diffNames[rng.IntN(len(diffNames))], i)
	}
	if d := diffDomains[rng.IntN(len(diffDomains))]; d != "" {
		fmt.Fprintf(&b, "; Domain=%s", d)
	}
	if p := diffCookiePaths[rng.IntN(len(diffCookiePaths))]; p != "" {
		fmt.Fprintf(&b, "; Path=%s", p)
	}
	switch rng.IntN(7) {
	case 0:
		b.WriteString("; Max-Age=3600")
	case 1:
		b.WriteString("; Max-Age=-1")
	case 2:
		fmt.Fprintf(&b, "; Expires=%s", time.Now().Add(48*time.Hour).UTC().Format(http.TimeFormat))
	case 3:
		fmt.Fprintf(&b, "; Expires=%s", time.Now().Add(-48*time.Hour).UTC().Format(http.TimeFormat))
	}
	if rng.IntN(3) == 0 {
		b.WriteString("; Secure")
	}
	if rng.IntN(3) == 0 {
		b.WriteString("; HttpOnly")
	}
	b.WriteString([]string{"", "", "; SameSite=Lax", "; SameSite=Strict", "; SameSite=None", "; SameSite"}[rng.IntN(6)])
	return b.String()
}

func randomURL(rng *rand.Rand) *url.URL {
	scheme := "https"
	if rng.IntN(3) == 0 {
		scheme = "http"
	}
	return &url.URL{Scheme: scheme, Host: diffHosts[rng.IntN(len(diffHosts))], Path: diffPaths[rng.IntN(len(diffPaths))]}
}

func queryURLs() []*url.URL {
	var out []*url.URL
	for _, h := range append(diffHosts, "sub.www.example.com", "other.com", "api.example.co.uk") {
		for _, p := range diffPaths {
			for _, s := range []string{"http", "https"} {
				out = append(out, &url.URL{Scheme: s, Host: h, Path: p})
			}
		}
	}
	return out
}

// TestJarMatchesStdlibAndReplay is the differential test: thousands of parsed
// Set-Cookie headers from many URLs go to a plain standard jar and to a Jar;
// then the Jar's records go through the file format into a fresh Jar. For
// every query URL all three must send the same Cookie header, and the
// replayed records must equal the original ones.
func TestJarMatchesStdlibAndReplay(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			ref, _ := stdjar.New(&stdjar.Options{PublicSuffixList: publicsuffix.List})
			j := newJar(JarOptions{MaxCookies: -1, MaxSessionCookies: -1}, nil)
			for i := 0; i < 2000; i++ {
				u := randomURL(rng)
				n := 1 + rng.IntN(3)
				var cs []*http.Cookie
				for k := 0; k < n; k++ {
					c, err := http.ParseSetCookie(randomSetCookie(rng, i*10+k))
					if err == nil {
						cs = append(cs, c)
					}
				}
				ref.SetCookies(u, cs)
				j.SetCookies(u, cs)
			}
			if j.Len() < 20 {
				t.Fatalf("only %d cookies stored: the generator is too destructive to test anything", j.Len())
			}
			if c, n := j.Count(), j.Len(); c != n {
				t.Errorf("Count = %d, Len = %d", c, n)
			}
			replayed := roundTrip(t, j)
			nonEmpty := 0
			for _, u := range queryURLs() {
				want := cookieHeader(ref.Cookies(u))
				if got := cookieHeader(j.Cookies(u)); got != want {
					t.Errorf("%s: Jar sends %q, standard jar %q", u, got, want)
				}
				if got := cookieHeader(replayed.Cookies(u)); got != want {
					t.Errorf("%s: replayed Jar sends %q, original %q", u, got, want)
				}
				if want != "" {
					nonEmpty++
				}
			}
			if nonEmpty < 50 {
				t.Errorf("only %d query URLs got cookies; the test proves little", nonEmpty)
			}
			a, b := j.Records(), replayed.Records()
			if len(a) != len(b) {
				t.Fatalf("replayed %d records, want %d", len(b), len(a))
			}
			for i := range a {
				if !sameCookie(a[i], b[i]) {
					t.Errorf("record %d: replayed %v, want %v (values equal: %v)", i, b[i], a[i], a[i].Value == b[i].Value)
				}
			}
			t.Logf("%d cookies, %d of %d query URLs get cookies", len(a), nonEmpty, len(queryURLs()))
		})
	}
}

func TestJarRecordsResolveLikeRFC6265(t *testing.T) {
	clock := newFakeClock()
	j := newJar(JarOptions{Now: clock.Now}, nil)
	www := mustURL(t, "https://WWW.Example.com:443/api/v1/messages")
	j.SetCookies(www, setCookies(t,
		"host=1",
		"dom=2; Domain=.example.com; Path=/; Secure; HttpOnly; SameSite=Lax",
		"age=3; Max-Age=600; Path=/api",
		"exp=4; Expires="+clock.Now().Add(time.Hour).UTC().Format(http.TimeFormat),
		"bad=5; Domain=other.com",
		"psl=6; Domain=com",
	))
	recs := j.Records()
	byName := map[string]Record{}
	for _, r := range recs {
		byName[r.Name] = r
	}
	if len(recs) != 4 {
		t.Fatalf("got %d records %v, want host, dom, age, exp (other.com and com refused)", len(recs), recs)
	}
	check := func(name, domain, path string, hostOnly bool) {
		t.Helper()
		r := byName[name]
		if r.Domain != domain || r.Path != path || r.HostOnly != hostOnly {
			t.Errorf("%s: domain %q path %q hostOnly %v, want %q %q %v", name, r.Domain, r.Path, r.HostOnly, domain, path, hostOnly)
		}
	}
	check("host", "www.example.com", "/api/v1", true)
	check("dom", "example.com", "/", false)
	check("age", "www.example.com", "/api", true)
	if r := byName["dom"]; !r.Secure || !r.HttpOnly || r.SameSite != SameSiteLax || !r.Session() {
		t.Errorf("dom attributes: %v", r)
	}
	if got, want := byName["age"].Expires, clock.Now().Add(600*time.Second); !got.Equal(want) {
		t.Errorf("Max-Age=600 gave expiry %v, want %v", got, want)
	}
	if got := byName["exp"].Expires; got.Unix() != clock.Now().Add(time.Hour).Unix() {
		t.Errorf("Expires gave %v", got)
	}

	sent := func(raw string) string { return cookieHeader(j.Cookies(mustURL(t, raw))) }
	if got := sent("https://api.example.com/"); got != "dom=2" {
		t.Errorf("a subdomain gets %q, want only the domain cookie", got)
	}
	if got := sent("http://www.example.com/api/v1/x"); strings.Contains(got, "dom=") || !strings.Contains(got, "host=1") {
		t.Errorf("plain http gets %q: the Secure cookie must stay home, the others go", got)
	}
	if got := sent("https://www.example.com/api/v1/x"); got != "host=1; exp=4; age=3; dom=2" {
		t.Errorf("https://www.example.com/api/v1/x gets %q", got)
	}
}

func TestJarDeletionAndExpiry(t *testing.T) {
	clock := newFakeClock()
	j := newJar(JarOptions{Now: clock.Now}, nil)
	u := mustURL(t, "https://example.com/")
	j.SetCookies(u, setCookies(t, "a=1", "b=2; Max-Age=60", "c=3", "d=4"))
	if n := j.Count(); n != 4 {
		t.Errorf("Count = %d after setting 4 cookies, want 4", n)
	}
	j.SetCookies(u, setCookies(t, "a=gone; Max-Age=-1", "c=gone; Expires=Thu, 01 Jan 1970 00:00:01 GMT"))
	if got := cookieHeader(j.Cookies(u)); got != "b=2; d=4" {
		t.Fatalf("after deleting a and c: %q", got)
	}
	if n := j.Count(); n != 2 {
		t.Errorf("Count = %d after deleting 2 of 4, want 2", n)
	}
	clock.Advance(61 * time.Second)
	// Nothing swept the expired cookie yet: Count must not report it.
	if n := j.Count(); n != 1 {
		t.Errorf("Count = %d once the Max-Age=60 cookie expired, want 1", n)
	}
	if got := cookieHeader(j.Cookies(u)); got != "d=4" {
		t.Errorf("61s later the Max-Age=60 cookie is still sent: %q", got)
	}
	if n := j.Len(); n != 1 {
		t.Errorf("Len = %d after expiry, want 1", n)
	}
	if got := cookieHeader(roundTrip(t, j).Cookies(u)); got != "d=4" {
		t.Errorf("replayed jar sends %q", got)
	}
}

func TestJarSecureOnlyOverHTTPS(t *testing.T) {
	j := newJar(JarOptions{}, nil)
	j.SetCookies(mustURL(t, "https://api.example.com/"), setCookies(t, "cf_clearance=s3cret; Secure; HttpOnly; Path=/; Domain=example.com"))
	for _, jar := range []*Jar{j, roundTrip(t, j)} {
		if got := cookieHeader(jar.Cookies(mustURL(t, "https://api.example.com/v1"))); got != "cf_clearance=s3cret" {
			t.Errorf("https gets %q", got)
		}
		if got := jar.Cookies(mustURL(t, "http://api.example.com/v1")); len(got) != 0 {
			t.Errorf("plain http gets %q", cookieHeader(got))
		}
	}
}

func TestJarOrderSurvivesReplay(t *testing.T) {
	j := newJar(JarOptions{}, nil)
	u := mustURL(t, "https://example.com/a/b")
	// Same path length, created in this order; then an update of the first
	// keeps its creation time (and place).
	for _, n := range []string{"z", "y", "x", "w"} {
		j.SetCookies(u, setCookies(t, n+"=1; Path=/"))
	}
	j.SetCookies(u, setCookies(t, "z=2; Path=/", "deep=1; Path=/a"))
	want := "deep=1; z=2; y=1; x=1; w=1"
	if got := cookieHeader(j.Cookies(u)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := cookieHeader(roundTrip(t, j).Cookies(u)); got != want {
		t.Errorf("replayed order %q, want %q", got, want)
	}
}

func TestJarCaps(t *testing.T) {
	clock := newFakeClock()
	j := newJar(JarOptions{Now: clock.Now, MaxSessionCookies: 3, MaxCookies: 5}, nil)
	u := mustURL(t, "https://example.com/")
	for i := range 6 {
		j.SetCookies(u, setCookies(t, fmt.Sprintf("s%d=1", i)))
	}
	if got := cookieHeader(j.Cookies(u)); got != "s3=1; s4=1; s5=1" {
		t.Errorf("session cap 3 kept %q, want the 3 newest", got)
	}
	for i := range 4 {
		j.SetCookies(u, setCookies(t, fmt.Sprintf("p%d=1; Max-Age=3600", i)))
	}
	if got := cookieHeader(j.Cookies(u)); got != "s4=1; s5=1; p0=1; p1=1; p2=1; p3=1"[len("s4=1; "):] {
		t.Errorf("cap 5 kept %q, want the 5 newest", got)
	}
	if n := j.Len(); n != 5 {
		t.Errorf("Len = %d, want 5", n)
	}
}

func TestJarAddMergesAndReplaces(t *testing.T) {
	clock := newFakeClock()
	j := newJar(JarOptions{Now: clock.Now}, nil)
	u := mustURL(t, "https://api.example.com/")
	j.SetCookies(u, setCookies(t, "keep=1", "cf_clearance=old; Domain=example.com; Path=/"))
	n := j.Add([]Record{
		{Name: "cf_clearance", Value: "new", Domain: ".example.com", Path: "/", Secure: true, HttpOnly: true, Expires: clock.Now().Add(time.Hour)},
		{Name: "__cf_bm", Value: "bm", Domain: "api.example.com", HostOnly: true, Path: "/"},
		{Name: "old", Value: "x", Domain: "example.com", Path: "/", Expires: clock.Now().Add(-time.Hour)},
		{Name: "psl", Value: "x", Domain: "com", Path: "/"},
		{Name: "", Value: "x", Domain: "example.com", Path: "/"},
	})
	if n != 3 {
		t.Errorf("Add stored %d, want 3 (two new, the public-suffix one as a host cookie for \"com\")", n)
	}
	if got := cookieHeader(j.Cookies(u)); got != "keep=1; cf_clearance=new; __cf_bm=bm" {
		t.Errorf("after import: %q", got)
	}
	if got := cookieHeader(roundTrip(t, j).Cookies(u)); got != "keep=1; cf_clearance=new; __cf_bm=bm" {
		t.Errorf("after import and replay: %q", got)
	}
}

func TestJarClear(t *testing.T) {
	j := newJar(JarOptions{}, nil)
	u := mustURL(t, "https://example.com/")
	j.SetCookies(u, setCookies(t, "a=1", "b=2; Max-Age=60"))
	j.Clear()
	if j.Count() != 0 || j.Len() != 0 || len(j.Cookies(u)) != 0 || len(j.Records()) != 0 {
		t.Errorf("after Clear: Len %d, cookies %q", j.Len(), cookieHeader(j.Cookies(u)))
	}
}

func TestJarConcurrentUse(t *testing.T) {
	j := newJar(JarOptions{MaxCookies: 50, MaxSessionCookies: 20}, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := mustURL(t, fmt.Sprintf("https://h%d.example.com/p", g%3))
			for i := range 300 {
				j.SetCookies(u, setCookies(t, fmt.Sprintf("c%d=%d; Domain=example.com; Max-Age=%d", i%30, i, 1+i%5)))
				j.Cookies(u)
				switch i % 100 {
				case 10:
					j.Records()
				case 50:
					j.Add([]Record{{Name: "imp", Value: "1", Domain: "example.com", Path: "/"}})
				case 99:
					j.Clear()
				}
			}
		}()
	}
	wg.Wait()
	if n := j.Len(); n > 50 {
		t.Errorf("Len %d over the cap of 50", n)
	}
}

func TestRecordNeverShowsValue(t *testing.T) {
	const secret = "VALUE-MUST-NOT-LEAK"
	r := Record{Name: "cf_clearance", Value: secret, Domain: "example.com", Path: "/", Secure: true, Expires: time.Unix(2e9, 0)}
	var lb logBuffer
	lb.logger().Info("cookie", "rec", r)
	slog.New(slog.NewJSONHandler(&lb, nil)).Info("cookie", "rec", r)
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprintf("%v", []Record{r}), lb.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("value leaked in %q", s)
		}
		if !strings.Contains(s, "cf_clearance") {
			t.Errorf("name missing from %q", s)
		}
	}
}
