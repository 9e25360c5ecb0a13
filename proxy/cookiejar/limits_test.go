package cookiejar

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJarDropsCookiesOver4096Bytes: name + value over 4096 bytes is dropped
// (as browsers drop it) and leaves an existing cookie of that name alone;
// exactly 4096 is kept.
func TestJarDropsCookiesOver4096Bytes(t *testing.T) {
	j := newJar(JarOptions{}, nil)
	u := mustURL(t, "https://example.com/")
	j.SetCookies(u, []*http.Cookie{{Name: "a", Value: "old"}})
	j.SetCookies(u, []*http.Cookie{
		{Name: "a", Value: strings.Repeat("x", 4096)},   // 4097 with the name
		{Name: "b", Value: strings.Repeat("y", 4095)},   // exactly 4096
		{Name: "c", Value: strings.Repeat("z", 70<<10)}, // the flood's size
		nil,
	})
	got := map[string]int{}
	for _, r := range j.Records() {
		got[r.Name] = len(r.Value)
	}
	if len(got) != 2 || got["a"] != 3 || got["b"] != 4095 {
		t.Errorf("jar holds %v (name: value length), want a:3 b:4095", got)
	}
	if cs := j.Cookies(u); len(cs) != 2 {
		t.Errorf("the standard jar sends %d cookies, want 2", len(cs))
	}
}

// TestJarByteBudgetDropsOldestButClearance: past the byte budget the oldest
// cookies go first, the clearance cookie last, whatever its age.
func TestJarByteBudgetDropsOldestButClearance(t *testing.T) {
	clock := newFakeClock()
	j := newJar(JarOptions{Now: clock.Now, MaxBytes: 40 << 10}, nil)
	u := mustURL(t, "https://example.com/")
	j.SetCookies(u, []*http.Cookie{{Name: "cf_clearance", Value: strings.Repeat("c", 3000), MaxAge: 3600}})
	for i := range 100 {
		clock.Advance(time.Millisecond)
		j.SetCookies(u, []*http.Cookie{{Name: fmt.Sprintf("n%03d", i), Value: strings.Repeat("v", 4000), MaxAge: 3600}})
	}
	recs := j.Records()
	total, names := 0, map[string]bool{}
	for _, r := range recs {
		total += r.size()
		names[r.Name] = true
	}
	if total > 40<<10 {
		t.Errorf("jar holds %d bytes, budget %d", total, 40<<10)
	}
	if !names["cf_clearance"] || !names["n099"] || names["n000"] {
		t.Errorf("kept %v: want cf_clearance and the newest, not the oldest", names)
	}
	if len(j.Cookies(u)) != len(recs) {
		t.Errorf("standard jar sends %d cookies, records say %d", len(j.Cookies(u)), len(recs))
	}
}

// TestStoreOneBadUpstreamCostsNoOther: one upstream's part of the file does
// not parse; the others load, the file is kept aside and rewritten.
func TestStoreOneBadUpstreamCostsNoOther(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.json")
	content := `{"version":1,"upstreams":{
 "bad":{"cookies":{"a":1}},
 "good":{"cookies":[{"name":"k","value":"GOOD","domain":"example.com","host_only":true,"path":"/"}]}}}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s, lb := openStore(t, Options{Path: path, Now: func() time.Time { return at }})
	if n := s.Jar("good").Len(); n != 1 {
		t.Errorf("good upstream holds %d cookies, want 1; log: %s", n, lb.String())
	}
	if n := s.Jar("bad").Len(); n != 0 {
		t.Errorf("bad upstream holds %d cookies", n)
	}
	if got, err := os.ReadFile(path + ".corrupt-20260304T050607Z"); err != nil || string(got) != content {
		t.Errorf("the file as it was is not kept aside: %v", err)
	}
	if !strings.Contains(lb.String(), `upstream="\"bad\""`) {
		t.Errorf("the warning does not name the upstream: %s", lb.String())
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if names := cookieNames(readFileData(t, path), "good"); len(names) != 1 {
		t.Errorf("rewritten file holds %v for good", names)
	}
}

// TestStoreOversizedOldFileLoadsTrimmed: a file written before the limits
// (one upstream with 30 MB of cookies) loads: that jar trimmed to its budget,
// the other whole, instead of the whole file moved aside.
func TestStoreOversizedOldFileLoadsTrimmed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.json")
	var b strings.Builder
	b.WriteString(`{"version":1,"upstreams":{"good":{"cookies":[{"name":"k","value":"GOOD","domain":"example.com","host_only":true,"path":"/"}]},"flood":{"cookies":[`)
	big, mid := strings.Repeat("B", 70<<10), strings.Repeat("m", 4000)
	for i := range 400 {
		if i > 0 {
			b.WriteString(",")
		}
		v := big
		if i%2 == 1 {
			v = mid
		}
		fmt.Fprintf(&b, `{"name":"c%d","value":"%s","domain":"flood.example","host_only":true,"path":"/"}`, i, v)
	}
	b.WriteString("]}}}")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s, lb := openStore(t, Options{Path: path})
	if s.Jar("good").Len() != 1 || s.Jar("flood").Len() == 0 {
		t.Fatalf("good %d flood %d cookies; log %s", s.Jar("good").Len(), s.Jar("flood").Len(), lb.String())
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Size() > 2*DefaultMaxBytes {
		t.Errorf("rewritten file is %d bytes (was %d)", st.Size(), b.Len())
	}
}
