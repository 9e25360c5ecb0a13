package cookiejar

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInspectSummarisesWithoutChangingTheFile(t *testing.T) {
	clock := newFakeClock()
	path := filepath.Join(t.TempDir(), "cookies.json")
	s, err := Open(Options{Path: path, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	api, _ := url.Parse("https://api.example.com/v1/messages")
	s.Jar("api").SetCookies(api, setCookies(t,
		"cf_clearance=secret1; Domain=example.com; Path=/; Max-Age=7200; Secure",
		"__cf_bm=secret2; Path=/; Max-Age=60",
		"sess=secret3; Path=/",
	))
	other, _ := url.Parse("https://other.example.org/")
	s.Jar("other").SetCookies(other, setCookies(t, "cf_clearance=secret4; Path=/"))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// Two minutes later __cf_bm has expired; cf_clearance has not.
	sum, err := Inspect(path, clock.Now().Add(2*time.Minute))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if !sum.Exists || sum.Mode != 0o600 || sum.SavedAt.IsZero() || len(sum.Upstreams) != 2 {
		t.Fatalf("summary = %+v, want an existing 0600 file with 2 upstreams", sum)
	}
	a, o := sum.Upstreams[0], sum.Upstreams[1]
	if a.Name != "api" || a.Cookies != 2 || a.Expired != 1 || a.SessionClearance {
		t.Errorf("api = %+v, want 2 kept, 1 expired", a)
	}
	if want := clock.Now().Add(7200 * time.Second); a.Clearance.Sub(want).Abs() > 2*time.Second {
		t.Errorf("api clearance expiry = %v, want about %v", a.Clearance, want)
	}
	if o.Name != "other" || o.Cookies != 1 || !o.SessionClearance || !o.Clearance.IsZero() {
		t.Errorf("other = %+v, want one session cf_clearance", o)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Error("Inspect changed the file")
	}
}

func TestInspectMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	sum, err := Inspect(filepath.Join(dir, "none.json"), time.Now())
	if err != nil || sum.Exists {
		t.Fatalf("missing file: %+v, %v; want a zero summary and no error", sum, err)
	}
	bad := filepath.Join(dir, "cookies.json")
	if err := os.WriteFile(bad, []byte(`{"version":1,"upstreams":{"a":{"cookies":[{"name":"x","value":"SECRETVALUE"`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Inspect(bad, time.Now())
	if err == nil || !strings.Contains(err.Error(), "truncated") || strings.Contains(err.Error(), "SECRETVALUE") {
		t.Fatalf("torn file: err = %v, want a truncation error without the content", err)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("Inspect moved the corrupt file: %v", err)
	}
}

func TestInspectNamesAnUnreadableUpstream(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cookies.json")
	if err := os.WriteFile(p, []byte(`{"version":1,"upstreams":{"a":{"cookies":5},"b":{"cookies":[]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sum, err := Inspect(p, time.Now())
	if err != nil || len(sum.Upstreams) != 2 || sum.Upstreams[0].Unreadable == "" || sum.Upstreams[1].Unreadable != "" {
		t.Fatalf("Inspect = %+v, %v; want a unreadable, b fine", sum, err)
	}
}
