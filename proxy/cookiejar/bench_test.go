package cookiejar

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	stdjar "net/http/cookiejar"
	"net/url"
	"path/filepath"
	"testing"

	"golang.org/x/net/publicsuffix"
)

// hotPathCookies is what a Cloudflare-fronted API sends on most answers.
const hotPathSetCookie = "__cf_bm=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4; Path=/; Domain=example.com; Max-Age=1800; Secure; HttpOnly; SameSite=None"

func hotPathSetup(b *testing.B, jar http.CookieJar) (*url.URL, []*http.Cookie) {
	u, _ := url.Parse("https://api.example.com/v1/messages")
	for i := range 20 {
		jar.SetCookies(u, setCookies(b, fmt.Sprintf("c%d=v%d; Path=/; Max-Age=3600", i, i)))
	}
	return u, setCookies(b, hotPathSetCookie)
}

// BenchmarkHotPath is one proxied request: Cookies for the request, then
// SetCookies with the answer's __cf_bm, on a Store's jar holding 20 cookies
// (the Store is dirtied and its saver woken, without a write).
func BenchmarkHotPath(b *testing.B) {
	s, err := Open(Options{Path: filepath.Join(b.TempDir(), "cookies.json"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	j := s.Jar("anthropic")
	u, cs := hotPathSetup(b, j)
	b.ReportAllocs()
	for b.Loop() {
		j.Cookies(u)
		j.SetCookies(u, cs)
	}
}

// BenchmarkHotPathParallel is BenchmarkHotPath from many goroutines on one
// jar (one upstream, many concurrent requests).
func BenchmarkHotPathParallel(b *testing.B) {
	s, _ := Open(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	j := s.Jar("anthropic")
	u, cs := hotPathSetup(b, j)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j.Cookies(u)
			j.SetCookies(u, cs)
		}
	})
}

// BenchmarkHotPathStdlib is the same on a bare net/http/cookiejar, the cost
// floor this package adds to.
func BenchmarkHotPathStdlib(b *testing.B) {
	j, _ := stdjar.New(&stdjar.Options{PublicSuffixList: publicsuffix.List})
	u, cs := hotPathSetup(b, j)
	b.ReportAllocs()
	for b.Loop() {
		j.Cookies(u)
		j.SetCookies(u, cs)
	}
}

// BenchmarkSave is one debounced save of 3 upstreams x 200 cookies: encode,
// temporary file, fsync, rename. It runs on the saver goroutine, never on a
// request.
func BenchmarkSave(b *testing.B) {
	s, _ := Open(Options{Path: filepath.Join(b.TempDir(), "cookies.json"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	u, _ := url.Parse("https://api.example.com/")
	for up := range 3 {
		for i := range 200 {
			s.Jar(fmt.Sprint("up", up)).SetCookies(u, setCookies(b, fmt.Sprintf("c%d=%0200d; Path=/; Max-Age=3600", i, i)))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		s.markDirty()
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}
