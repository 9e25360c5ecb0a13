package cookiejar

import (
	"slices"
	"testing"
	"time"
)

func TestDropShortLivedCloudflareKeepsClearance(t *testing.T) {
	j := newJar(JarOptions{}, nil)
	u := mustURL(t, "https://api.example.com/")
	j.SetCookies(u, setCookies(t,
		"cf_clearance=keep; Secure; HttpOnly; Path=/; Domain=example.com; Max-Age=3600",
		"__cf_bm=stale; Secure; HttpOnly; Path=/; Domain=example.com; Max-Age=1800",
		"_cfuvid=x; Secure; Path=/; Domain=example.com",
		"__cflb=y; Path=/",
		"session=app; Path=/"))
	got := j.DropShortLivedCloudflare()
	if want := []string{"__cf_bm", "__cflb", "_cfuvid"}; !slices.Equal(got, want) {
		t.Fatalf("dropped %v, want %v", got, want)
	}
	if h := cookieHeader(j.Cookies(mustURL(t, "https://api.example.com/v1"))); h != "cf_clearance=keep; session=app" {
		t.Fatalf("left %q", h)
	}
	if got := j.DropShortLivedCloudflare(); got != nil {
		t.Fatalf("second drop: %v", got)
	}
	// What was dropped stays dropped after a save and a load.
	if h := cookieHeader(roundTrip(t, j).Cookies(mustURL(t, "https://api.example.com/v1"))); h != "cf_clearance=keep; session=app" {
		t.Fatalf("replayed jar sends %q", h)
	}
}

func TestDropStaleCloudflareByAge(t *testing.T) {
	clock := newFakeClock()
	j := newJar(JarOptions{Now: clock.Now}, nil)
	u := mustURL(t, "https://api.example.com/")
	j.SetCookies(u, setCookies(t, "__cf_bm=old; Secure; Path=/; Max-Age=86400", "cf_clearance=old; Secure; Path=/; Max-Age=86400"))
	clock.Advance(31 * time.Minute)
	j.SetCookies(u, setCookies(t, "_cfuvid=new; Secure; Path=/"))
	got := j.DropStaleCloudflare(clock.Now().Add(-30 * time.Minute))
	if !slices.Equal(got, []string{"__cf_bm"}) {
		t.Fatalf("dropped %v, want [__cf_bm]", got)
	}
	if h := cookieHeader(j.Cookies(u)); h != "cf_clearance=old; _cfuvid=new" {
		t.Fatalf("left %q", h)
	}
	if got := j.DropStaleCloudflare(time.Time{}); got != nil {
		t.Fatalf("zero cutoff dropped %v", got)
	}
}

func TestDropSchedulesASave(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	j := s.Jar("up")
	j.SetCookies(mustURL(t, "https://api.example.com/"), setCookies(t, "__cf_bm=x; Secure; Path=/"))
	gen := s.gen.Load()
	j.DropShortLivedCloudflare()
	if s.gen.Load() == gen {
		t.Fatal("dropping cookies did not mark the store dirty")
	}
}
