package cookiejar

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
)

// needTool returns the path of a tool, failing under CI=true and skipping
// loudly otherwise when it is missing.
func needTool(t *testing.T, name string) string {
	t.Helper()
	return desktoptest.Require(t, name)[name]
}

// sortedHeader sorts a Cookie header's pairs, to compare what two clients
// send regardless of order.
func sortedHeader(h string) string {
	parts := strings.Split(h, "; ")
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// TestNetscapeWithRealCurl: real curl stores cookies from a TLS upstream on
// loopback with -c; ParseNetscape reads that file; a Jar filled from it sends
// what curl -b sends; WriteNetscape's output is read back by ParseNetscape
// and by curl -b, which again sends the same cookies.
func TestNetscapeWithRealCurl(t *testing.T) {
	curl := needTool(t, "curl")
	future := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	seen := make(chan string, 8)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/set" {
			for _, c := range []string{
				"host=h1",
				"dom=d1; Domain=example.com; Path=/",
				"ho=secret; HttpOnly; Path=/",
				"sec=s1; Secure; Path=/; Max-Age=3600",
				"deep=p1; Path=/v1; Expires=" + future.Format(http.TimeFormat),
				"both=b1; Domain=.example.com; Path=/; Secure; HttpOnly; Max-Age=7200",
			} {
				w.Header().Add("Set-Cookie", c)
			}
			return
		}
		seen <- r.Header.Get("Cookie")
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	port := srv.Listener.Addr().String()
	port = port[strings.LastIndex(port, ":")+1:]
	base := "https://api.example.com:" + port
	runCurl := func(args ...string) {
		t.Helper()
		args = append([]string{"-sS", "--fail", "--max-time", "20", "--cacert", ca,
			"--resolve", "api.example.com:" + port + ":127.0.0.1"}, args...)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
	}
	curlSends := func(cookieFile, path string) string {
		t.Helper()
		runCurl("-b", cookieFile, base+path)
		select {
		case h := <-seen:
			return sortedHeader(h)
		case <-time.After(10 * time.Second):
			t.Fatal("the server saw no request")
			return ""
		}
	}

	jarFile := filepath.Join(dir, "curl-cookies.txt")
	runCurl("-c", jarFile, base+"/set")
	raw, err := os.ReadFile(jarFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("curl -c wrote:\n%s", redactValues(string(raw)))

	start := time.Now()
	recs, err := ParseNetscape(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ParseNetscape of curl's file: %v", err)
	}
	byName := map[string]Record{}
	for _, r := range recs {
		byName[r.Name] = r
	}
	if len(recs) != 6 {
		t.Fatalf("parsed %d cookies from curl's file, want 6: %v", len(recs), recs)
	}
	want := map[string]Record{
		"host": {Domain: "api.example.com", HostOnly: true, Path: "/"},
		"dom":  {Domain: "example.com", Path: "/"},
		"ho":   {Domain: "api.example.com", HostOnly: true, Path: "/", HttpOnly: true},
		"sec":  {Domain: "api.example.com", HostOnly: true, Path: "/", Secure: true},
		"deep": {Domain: "api.example.com", HostOnly: true, Path: "/v1", Expires: future},
		"both": {Domain: "example.com", Path: "/", Secure: true, HttpOnly: true},
	}
	for name, w := range want {
		g := byName[name]
		if g.Domain != w.Domain || g.HostOnly != w.HostOnly || g.Path != w.Path || g.Secure != w.Secure || g.HttpOnly != w.HttpOnly {
			t.Errorf("%s: got %v, want %v", name, g, w)
		}
	}
	if !byName["host"].Session() || !byName["dom"].Session() {
		t.Errorf("session cookies got expiries: %v %v", byName["host"], byName["dom"])
	}
	if e := byName["sec"].Expires; e.Before(start.Add(3590*time.Second)) || e.After(start.Add(3610*time.Second)) {
		t.Errorf("Max-Age=3600 cookie expires %v", e)
	}
	if !byName["deep"].Expires.Equal(future) {
		t.Errorf("Expires cookie: %v, want %v", byName["deep"].Expires, future)
	}
	if !MatchesHost(byName["dom"], "api.example.com") || MatchesHost(byName["host"], "other.example.com") {
		t.Error("MatchesHost disagrees with the parsed domains")
	}

	// A jar filled from curl's file sends what curl sends.
	j := newJar(JarOptions{}, nil)
	if n := j.Add(recs); n != 6 {
		t.Fatalf("Add stored %d of 6", n)
	}
	for _, p := range []string{"/v1/messages", "/"} {
		u, _ := url.Parse(base + p)
		if got, curlGot := sortedHeader(cookieHeader(j.Cookies(u))), curlSends(jarFile, p); got != curlGot {
			t.Errorf("%s: jar sends %q, curl -b sends %q", p, got, curlGot)
		}
	}

	// Export, then read it back: with ParseNetscape and with curl.
	var out bytes.Buffer
	if err := WriteNetscape(&out, j.Records()); err != nil {
		t.Fatal(err)
	}
	exported := filepath.Join(dir, "exported.txt")
	os.WriteFile(exported, out.Bytes(), 0o600)
	back, err := ParseNetscape(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("ParseNetscape of our export: %v", err)
	}
	if len(back) != len(recs) {
		t.Fatalf("round trip gave %d records, want %d", len(back), len(recs))
	}
	for _, r := range back {
		o := byName[r.Name]
		if r.Value != o.Value || r.Domain != o.Domain || r.HostOnly != o.HostOnly || r.Path != o.Path ||
			r.Secure != o.Secure || r.HttpOnly != o.HttpOnly || r.Expires.Unix() != o.Expires.Unix() {
			t.Errorf("round trip of %s: %v, want %v", r.Name, r, o)
		}
	}
	if got, want := curlSends(exported, "/v1/x"), curlSends(jarFile, "/v1/x"); got != want {
		t.Errorf("curl -b with our export sends %q, with its own file %q", got, want)
	}
}

// redactValues blanks the value column of a cookies.txt for logging.
func redactValues(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		f := strings.Split(l, "\t")
		if len(f) == 7 {
			f[6] = "<value>"
		}
		b.WriteString(strings.Join(f, "\t") + "\n")
	}
	return b.String()
}

func TestParseNetscapeFormats(t *testing.T) {
	in := "# Netscape HTTP Cookie File\r\n" +
		"# https://curl.se/docs/http-cookies.html\r\n" +
		"\r\n" +
		".example.com\tTRUE\t/\tTRUE\t2000000000\tcf_clearance\tabc\r\n" +
		"#HttpOnly_api.example.com\tFALSE\t/v1\tFALSE\t0\t__cf_bm\tdef\r\n" +
		"   \t  \r\n" +
		"example.org\tfalse\t/\tfalse\t0\tempty\r\n" + // 6 fields: empty value
		"example.org\tFALSE\t/\tFALSE\t1700000000.5\tfrac\t\"quoted\"\n" +
		"  .Example.NET\tTRUE\t/\tFALSE\t0\tx\ty\n"
	recs, err := ParseNetscape(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{Name: "cf_clearance", Value: "abc", Domain: "example.com", Path: "/", Secure: true, Expires: time.Unix(2000000000, 0).UTC()},
		{Name: "__cf_bm", Value: "def", Domain: "api.example.com", HostOnly: true, Path: "/v1", HttpOnly: true},
		{Name: "empty", Value: "", Domain: "example.org", HostOnly: true, Path: "/"},
		{Name: "frac", Value: "quoted", Quoted: true, Domain: "example.org", HostOnly: true, Path: "/", Expires: time.Unix(1700000000, 0).UTC()},
		{Name: "x", Value: "y", Domain: "example.net", Path: "/"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records: %v", len(recs), recs)
	}
	for i := range want {
		if !sameCookie(recs[i], want[i]) {
			t.Errorf("record %d: got %v (value %q), want %v", i, recs[i], recs[i].Value, want[i])
		}
	}
}

func TestParseNetscapeBadLinesNameTheLine(t *testing.T) {
	lines := []string{
		"# Netscape HTTP Cookie File",                // 1
		".example.com\tTRUE\t/\tFALSE\t0\tok\tv",     // 2 good
		"example.com TRUE / FALSE 0 spaces v",        // 3 spaces, not tabs
		"example.com\tMAYBE\t/\tFALSE\t0\tn\tv",      // 4
		"example.com\tTRUE\tnoslash\tFALSE\t0\tn\tv", // 5
		"example.com\tTRUE\t/\tyes\t0\tn\tv",         // 6
		"example.com\tTRUE\t/\tFALSE\tsoon\tn\tv",    // 7
		"example.com\tTRUE\t/\tFALSE\t-5\tn\tv",      // 8
		"example.com\tTRUE\t/\tFALSE\t0\t\tSECRET",   // 9 empty name
		"\tTRUE\t/\tFALSE\t0\tn\tv",                  // 10 empty domain
		"a\tb\tc\td\te\tf\tg\th",                     // 11 eight fields
		"example.com\tTRUE\t/\tFALSE\t0\tlast\tv",    // 12 good
	}
	recs, err := ParseNetscape(strings.NewReader(strings.Join(lines, "\n")))
	if len(recs) != 2 || recs[0].Name != "ok" || recs[1].Name != "last" {
		t.Errorf("good lines: %v", recs)
	}
	if err == nil {
		t.Fatal("no error for bad lines")
	}
	var got []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *ParseError
		if !errors.As(e, &pe) {
			t.Fatalf("error %v is not a *ParseError", e)
		}
		got = append(got, pe.Line)
		if !strings.HasPrefix(e.Error(), fmt.Sprintf("cookies.txt line %d: ", pe.Line)) {
			t.Errorf("message %q does not start with the line", e.Error())
		}
	}
	if fmt.Sprint(got) != "[3 4 5 6 7 8 9 10 11]" {
		t.Errorf("bad lines reported: %v, want 3..11\n%v", got, err)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error quotes a cookie value: %v", err)
	}
	t.Logf("errors:\n%v", err)
}

func TestParseNetscapeManyBadLinesAreCapped(t *testing.T) {
	in := strings.Repeat("garbage\n", 100)
	_, err := ParseNetscape(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "80 more bad lines") || strings.Count(err.Error(), "cookies.txt line") != 20 {
		t.Errorf("err = %v", err)
	}
}

func TestWriteNetscapeFormatAndRefusals(t *testing.T) {
	var b bytes.Buffer
	err := WriteNetscape(&b, []Record{
		{Name: "d", Value: "1", Domain: "example.com", Path: "/", Secure: true, HttpOnly: true, Expires: time.Unix(2000000000, 0)},
		{Name: "h", Value: "2", Domain: "api.example.com", HostOnly: true, Path: "/v1"},
		{Name: "q", Value: "3", Quoted: true, Domain: "api.example.com", HostOnly: true, Path: ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, line := range []string{
		"# Netscape HTTP Cookie File\n",
		"\n#HttpOnly_.example.com\tTRUE\t/\tTRUE\t2000000000\td\t1\n",
		"\napi.example.com\tFALSE\t/v1\tFALSE\t0\th\t2\n",
		"\napi.example.com\tFALSE\t/\tFALSE\t0\tq\t\"3\"\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("output lacks %q:\n%s", line, got)
		}
	}
	if !strings.HasPrefix(got, "# Netscape HTTP Cookie File\n") {
		t.Errorf("header is not first:\n%s", got)
	}
	for _, bad := range []Record{
		{Name: "tab", Value: "a\tSECRET", Domain: "example.com", Path: "/"},
		{Name: "nl", Value: "a\nSECRET", Domain: "example.com", Path: "/"},
		{Name: "", Value: "SECRET", Domain: "example.com", Path: "/"},
		{Name: "nodomain", Value: "SECRET", Path: "/"},
	} {
		var out bytes.Buffer
		good := Record{Name: "good", Value: "v", Domain: "example.com", Path: "/"}
		err := WriteNetscape(&out, []Record{good, bad})
		if out.Len() != 0 {
			t.Errorf("%q: wrote %d bytes before refusing", bad.Name, out.Len())
		}
		if err == nil {
			t.Errorf("%q accepted", bad.Name)
		} else if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}
