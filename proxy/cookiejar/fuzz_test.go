package cookiejar

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	stdjar "net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"
)

// FuzzParseNetscape: any input parses without panicking, and every cookie
// that parsed survives WriteNetscape and a second ParseNetscape unchanged.
func FuzzParseNetscape(f *testing.F) {
	f.Add([]byte("# Netscape HTTP Cookie File\n.example.com\tTRUE\t/\tTRUE\t2000000000\tcf_clearance\tabc\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _ := ParseNetscape(bytes.NewReader(data))
		var out bytes.Buffer
		if err := WriteNetscape(&out, recs); err != nil {
			return // e.g. a stray CR inside a value: refused with an error, fine
		}
		back, err := ParseNetscape(&out)
		if err != nil {
			t.Fatalf("our own output does not parse: %v\n%q", err, out.String())
		}
		if len(back) != len(recs) {
			t.Fatalf("round trip: %d records, want %d\n%q", len(back), len(recs), out.String())
		}
		for i := range recs {
			a, b := recs[i], back[i]
			if a.Name != b.Name || a.Value != b.Value || a.Quoted != b.Quoted || a.Domain != b.Domain ||
				a.HostOnly != b.HostOnly || a.Path != b.Path || a.Secure != b.Secure || a.HttpOnly != b.HttpOnly ||
				a.Expires.Unix() != b.Expires.Unix() || a.Session() != b.Session() {
				t.Fatalf("record %d changed in the round trip: %v -> %v (value %q -> %q)", i, a, b, a.Value, b.Value)
			}
		}
	})
}

// FuzzLoadFile: the jar file loader never panics on any bytes; whatever it
// accepts can be saved, and loading that save gives the same cookies and
// drops nothing.
func FuzzLoadFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"upstreams":{"up":{"user_agent":"UA","cookies":[{"name":"a","value":"1","domain":"example.com","host_only":true,"path":"/"}]}}}`))
	now := time.Now()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func() *Store {
		s, err := Open(Options{Now: func() time.Time { return now }, Logger: quiet})
		if err != nil {
			panic(err)
		}
		return s
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fd, err := decodeFile(data)
		if err != nil {
			return
		}
		s := open()
		s.apply(fd)
		saved, err := encodeFile(now, s.snapshot(now))
		if err != nil {
			t.Fatalf("cannot save what was loaded: %v", err)
		}
		fd2, err := decodeFile(saved)
		if err != nil {
			t.Fatalf("our own file does not load: %v\n%s", err, saved)
		}
		s2 := open()
		if dropped, _ := s2.apply(fd2); dropped {
			t.Fatalf("reloading our own file dropped cookies\n%s", saved)
		}
		for _, up := range s.Upstreams() {
			if s.UserAgent(up) != s2.UserAgent(up) {
				t.Fatalf("%q: UA %q became %q", up, s.UserAgent(up), s2.UserAgent(up))
			}
			a, b := s.Jar(up).Records(), s2.Jar(up).Records()
			if len(a) != len(b) {
				t.Fatalf("%q: %d records became %d", up, len(a), len(b))
			}
			for i := range a {
				if !sameCookie(a[i], b[i]) {
					t.Fatalf("%q: %v became %v", up, a[i], b[i])
				}
			}
		}
	})
}

// TestLoadFuzzSeedsThroughOpen feeds every committed FuzzLoadFile seed to
// Open on a real file: it never fails, and a file it cannot parse is moved
// aside.
func TestLoadFuzzSeedsThroughOpen(t *testing.T) {
	seeds := readFuzzSeeds(t, "FuzzLoadFile")
	if len(seeds) < 5 {
		t.Fatalf("only %d seeds in testdata/fuzz/FuzzLoadFile", len(seeds))
	}
	for name, data := range seeds {
		t.Run(name, func(t *testing.T) {
			path := t.TempDir() + "/cookies.json"
			if err := writeTestFile(path, data); err != nil {
				t.Fatal(err)
			}
			s, err := Open(Options{Path: path, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

// FuzzJarMirrorsStdlib: for any Set-Cookie received from any URL, a Jar
// sends what a plain standard jar sends, and so does a Jar rebuilt from its
// saved records (the RFC 6265 mirror in rfc6265.go stays exact).
func FuzzJarMirrorsStdlib(f *testing.F) {
	f.Add("www.example.com", "/a/b", "c=1; Domain=example.com; Path=/", "https://api.example.com/a")
	f.Add("[::1]:8080", "", "c=1; Max-Age=60; Secure", "http://[::1]/")
	f.Add("bücher.example", "/x", "c=\"q\"; Domain=xn--bcher-kva.example", "https://a.bücher.example/x")
	f.Add("co.uk", "/", "c=1; Domain=co.uk", "https://co.uk/")
	f.Fuzz(func(t *testing.T, host, path, setCookie, query string) {
		c, err := http.ParseSetCookie(setCookie)
		if err != nil {
			return
		}
		from := &url.URL{Scheme: "https", Host: host, Path: path}
		q, err := url.Parse(query)
		if err != nil {
			return
		}
		ref, _ := stdjar.New(&stdjar.Options{PublicSuffixList: publicsuffix.List})
		j := newJar(JarOptions{}, nil)
		ref.SetCookies(from, []*http.Cookie{c})
		j.SetCookies(from, []*http.Cookie{c})
		for _, u := range []*url.URL{q, from} {
			want := cookieHeader(ref.Cookies(u))
			if got := cookieHeader(j.Cookies(u)); got != want {
				t.Fatalf("%s: Jar sends %q, standard jar %q", u, got, want)
			}
			recs := j.Records()
			if len(recs) == 1 && !(&fileCookie{Name: recs[0].Name, Domain: recs[0].Domain, Path: recs[0].Path, Value: recs[0].Value}).valid() {
				continue // a host that cannot be replayed is documented to be dropped on load
			}
			if got := cookieHeader(roundTrip(t, j).Cookies(u)); got != want {
				t.Fatalf("%s: replayed Jar sends %q, standard jar %q (records %v)", u, got, want, recs)
			}
		}
	})
}
