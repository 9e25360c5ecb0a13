//go:build unix

package shared

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/redistest"
	"github.com/clearway/clearway/proxy/throttle"
)

// changes records a Client's OnChange calls.
type changes struct {
	mu sync.Mutex
	s  []State
}

func (c *changes) add(s State) { c.mu.Lock(); c.s = append(c.s, s); c.mu.Unlock() }
func (c *changes) all() []State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]State(nil), c.s...)
}

func open(t *testing.T, url, ns string, mod func(*Options)) (*Client, *changes) {
	t.Helper()
	ch := &changes{}
	// A generous timeout: these tests check what is shared, on a machine
	// that may be busy; TestFrozenRedisCostsAtMostTheTimeout checks the
	// default one.
	o := Options{URL: url, Namespace: ns, User: "tester", Lease: 3 * time.Second, OnChange: ch.add, Timeout: time.Second}
	if mod != nil {
		mod(&o)
	}
	c, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ch
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func refusedFor(err error) (string, bool) {
	var r *throttle.Refused
	if errors.As(err, &r) {
		return r.Reason, true
	}
	return "", false
}

// Three instances of one namespace share one GCRA budget: of 30 requests sent
// at once with no wait allowed, exactly burst go through.
func TestRateBudgetIsOneAcrossInstances(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, burst := range []int{1, 4} {
		ns := "rate" + string(rune('a'+burst))
		var lims []*Limiter
		for range 3 {
			c, _ := open(t, srv.URL(), ns, nil)
			if !c.State().Connected {
				t.Fatalf("not connected: %s", c.State())
			}
			lims = append(lims, c.Limiter("api", Settings{Settings: throttle.Settings{PerMinute: 6, Burst: burst}}, nil))
		}
		var admitted, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rel, err := lims[i%3].Acquire(context.Background())
				if err == nil {
					admitted.Add(1)
					rel()
					return
				}
				if reason, ok := refusedFor(err); ok && reason == "rate" {
					refused.Add(1)
					return
				}
				t.Errorf("unexpected error: %v", err)
			}()
		}
		wg.Wait()
		if admitted.Load() != int64(burst) || refused.Load() != int64(30-burst) {
			t.Errorf("burst %d: admitted %d, refused %d; want %d and %d (state %s)", burst, admitted.Load(), refused.Load(), burst, 30-burst, lims[0].c.State())
		}
	}
}

// A refused request is told how long to wait: one GCRA interval (10 s at 6/min).
func TestRateRefusalSaysWhen(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c, _ := open(t, srv.URL(), "when", nil)
	l := c.Limiter("api", Settings{Settings: throttle.Settings{PerMinute: 6, Burst: 1}}, nil)
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	_, err = l.Acquire(context.Background())
	var r *throttle.Refused
	if !errors.As(err, &r) || r.RetryAfter <= 9*time.Second || r.RetryAfter > 10*time.Second {
		t.Fatalf("second request: %v, want a rate refusal with a wait just under 10s", err)
	}
}

// max_concurrent is one semaphore across instances.
func TestConcurrencyIsOneAcrossInstances(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var lims []*Limiter
	for range 3 {
		c, _ := open(t, srv.URL(), "sem", nil)
		lims = append(lims, c.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 2}}, nil))
	}
	ctx := context.Background()
	r1, err1 := lims[0].Acquire(ctx)
	r2, err2 := lims[1].Acquire(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := lims[2].Acquire(ctx); err == nil {
		t.Fatal("a third slot was given across instances")
	} else if reason, _ := refusedFor(err); reason != "concurrency" {
		t.Fatalf("third: %v, want a concurrency refusal", err)
	}
	r1()
	r3, err := lims[2].Acquire(ctx)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
	r2() // a second release does nothing
}

// A waiting request gets the slot another instance releases.
func TestConcurrencyWaitsForARelease(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := open(t, srv.URL(), "semwait", nil)
	b, _ := open(t, srv.URL(), "semwait", nil)
	la := a.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 1}}, nil)
	lb := b.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 1, MaxWait: 30 * time.Second}}, nil)
	rel, err := la.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := lb.Acquire(context.Background())
		if err == nil {
			r()
		}
		got <- err
	}()
	waitFor(t, "b to queue", 5*time.Second, func() bool { return lb.Waiting() == 1 })
	rel()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A lease is renewed while held (the slot stays taken past the lease time)
// and expires when its holder vanishes without releasing it.
func TestLeaseRenewedWhileHeldAndFreedWhenHolderVanishes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	lease := time.Second
	a, _ := open(t, srv.URL(), "lease", func(o *Options) { o.Lease = lease })
	b, _ := open(t, srv.URL(), "lease", func(o *Options) { o.Lease = lease })
	la := a.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 1}}, nil)
	lb := b.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 1}}, nil)
	if _, err := la.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	held := time.Now()
	for time.Since(held) < 3*lease {
		if _, err := lb.Acquire(context.Background()); err == nil {
			t.Fatalf("slot given away %s after it was taken; the holder renews it", time.Since(held))
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.vanish()
	gone := time.Now()
	lbw := b.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 1, MaxWait: 10 * time.Second}}, nil)
	rel, err := lbw.Acquire(context.Background())
	if err != nil {
		t.Fatalf("the vanished holder's slot never freed: %v", err)
	}
	rel()
	t.Logf("slot freed %s after its holder vanished (lease %s)", time.Since(gone).Round(time.Millisecond), lease)
}

// vanish stops a Client as a SIGKILL would: no more heartbeats, nothing
// cleaned up.
func (c *Client) vanish() {
	c.once.Do(func() { close(c.stop); <-c.done })
	_ = c.rdb.Close()
}

// A pause set by one instance holds every instance's requests until it ends;
// a key's pause holds only that key.
func TestPauseHoldsEveryInstance(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := open(t, srv.URL(), "pause", nil)
	b, _ := open(t, srv.URL(), "pause", nil)
	la := a.Limiter("api", Settings{}, nil)
	lb := b.Limiter("api", Settings{Settings: throttle.Settings{MaxWait: 10 * time.Second}}, nil)
	lbNow := b.Limiter("api", Settings{}, nil)
	start := time.Now()
	la.Pause("", start.Add(700*time.Millisecond))
	if _, err := lbNow.Acquire(context.Background()); err == nil {
		t.Fatal("a request went through another instance's pause")
	} else if reason, _ := refusedFor(err); reason != "paused" {
		t.Fatalf("err = %v, want a paused refusal", err)
	}
	rel, err := lb.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
	if waited := time.Since(start); waited < 700*time.Millisecond {
		t.Fatalf("went after %s, before the 700ms pause ended", waited)
	}
	// With a key pool, one key's pause leaves the others: requests wait
	// only while every key is paused.
	pa := a.Limiter("pool", Settings{}, nil, "k1", "k2")
	pb := b.Limiter("pool", Settings{}, nil, "k1", "k2")
	k1Until := time.Now().Add(5 * time.Second)
	pa.Pause("k1", k1Until)
	rel, err = pb.Acquire(context.Background())
	if err != nil {
		t.Fatalf("one key of two paused: %v", err)
	}
	rel()
	pa.Pause("k2", time.Now().Add(5*time.Second))
	if _, err := pb.Acquire(context.Background()); err == nil {
		t.Fatal("every key is paused but a request went")
	} else if reason, _ := refusedFor(err); reason != "paused" {
		t.Fatalf("err = %v", err)
	}
	// The other instance learns which key rests, for its key pool: after
	// its next read of Redis, k1 and k2 are paused ~5 s, a key outside the
	// pool is not.
	// What b learns from Redis's PTTL ends after now and with a's pause
	// (each side adds a millisecond of rounding; the margin is for a busy
	// machine's round trips, far below the 5 s pause).
	if until := pb.PausedUntil("k1"); !until.After(time.Now()) || until.After(k1Until.Add(time.Second)) {
		t.Fatalf("instance b sees k1 paused until %v, want in the future and by %v", until, k1Until)
	}
	if until := pb.PausedUntil("k2"); !until.After(time.Now()) {
		t.Fatalf("instance b sees k2 paused until %v, want in the future", until)
	}
	if until := pb.PausedUntil("other"); !until.IsZero() {
		t.Fatalf("a key nobody paused reads paused until %v", until)
	}
	// An earlier pause does not shorten a longer one.
	la.Pause("", time.Now().Add(5*time.Second))
	la.Pause("", time.Now().Add(10*time.Millisecond))
	time.Sleep(20 * time.Millisecond) // let the shorter pause's time pass
	if _, err := lbNow.Acquire(context.Background()); err == nil {
		t.Fatal("a shorter pause ended the longer one")
	}
	// A key of a single-key upstream pauses the whole upstream.
	sa := a.Limiter("single", Settings{}, nil, "only")
	sb := b.Limiter("single", Settings{}, nil, "only")
	sa.Pause("only", time.Now().Add(5*time.Second))
	if _, err := sb.Acquire(context.Background()); err == nil {
		t.Fatal("the only key is paused but a request went")
	}
}

// tokens_per_minute: usage charged on one instance holds the others once the
// budget (a minute's worth) is overdrawn.
func TestTokenBudgetIsShared(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := open(t, srv.URL(), "tokens", nil)
	b, _ := open(t, srv.URL(), "tokens", nil)
	s := Settings{TokensPerMinute: 600}
	la, lb := a.Limiter("api", s, nil), b.Limiter("api", s, nil)
	la.Charge(500)
	rel, err := lb.Acquire(context.Background())
	if err != nil {
		t.Fatalf("within budget: %v", err)
	}
	rel()
	la.Charge(200) // 700 of 600: 100 tokens over, 10 s of debt
	_, err = lb.Acquire(context.Background())
	var r *throttle.Refused
	if !errors.As(err, &r) || r.Reason != "tokens" || r.RetryAfter < 9*time.Second || r.RetryAfter > 10*time.Second {
		t.Fatalf("overdrawn: %v, want a tokens refusal of about 10s", err)
	}
}

// Redis killed: requests go on at once on local limits, one notification;
// Redis back: shared again by itself.
func TestFallsBackAndReconnects(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c, ch := open(t, srv.URL(), "down", nil)
	local := throttle.New(throttle.Settings{MaxConcurrent: 1}, nil)
	l := c.Limiter("api", Settings{Settings: throttle.Settings{PerMinute: 6000, Burst: 100, MaxConcurrent: 5}}, local)
	srv.Kill()
	var worst time.Duration
	for i := range 20 {
		start := time.Now()
		rel, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatalf("request %d with Redis down: %v", i, err)
		}
		worst = max(worst, time.Since(start))
		rel()
	}
	t.Logf("with Redis killed: slowest Acquire %s", worst)
	if st := c.State(); st.Connected || !strings.Contains(st.Why, "Redis") {
		t.Fatalf("state = %s, want degraded with a reason", st)
	}
	// Local limits apply: one slot.
	rel, _ := l.Acquire(context.Background())
	if _, err := l.Acquire(context.Background()); err == nil {
		t.Fatal("local max_concurrent 1 not applied while degraded")
	}
	rel()
	if got := ch.all(); len(got) != 1 || got[0].Connected {
		t.Fatalf("changes = %v, want one degraded notice", got)
	}
	srv.Restart()
	waitFor(t, "shared again", 10*time.Second, func() bool { return c.State().Connected })
	if got := ch.all(); len(got) != 2 || !got[1].Connected {
		t.Fatalf("changes = %v, want degraded then connected", got)
	}
	// And the shared semaphore is in use again: 5 slots, not 1.
	var rels []func()
	for range 5 {
		r, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatalf("shared again: %v", err)
		}
		rels = append(rels, r)
	}
	for _, r := range rels {
		r()
	}
}

// A Redis that hangs (SIGSTOP) costs a request at most the call timeout.
func TestFrozenRedisCostsAtMostTheTimeout(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c, ch := open(t, srv.URL(), "frozen", func(o *Options) { o.Timeout = 0 })
	l := c.Limiter("api", Settings{Settings: throttle.Settings{PerMinute: 6000, Burst: 100}}, nil)
	srv.Freeze()
	defer srv.Thaw()
	var worst time.Duration
	for i := range slowLimit + 2 {
		start := time.Now()
		rel, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rel()
		took := time.Since(start)
		worst = max(worst, took)
		t.Logf("request %d against a frozen Redis waited %s (timeout %s)", i+1, took, DefaultTimeout)
		if took >= backgroundTimeout {
			t.Fatalf("waited %s on a frozen Redis", took)
		}
	}
	if c.State().Connected || !strings.Contains(c.State().Why, "did not answer") {
		t.Fatalf("state = %s", c.State())
	}
	if len(ch.all()) != 1 {
		t.Fatalf("changes = %v, want one", ch.all())
	}
}

// Wrong password or nothing listening at start: the Client starts degraded
// and says why.
func TestStartsDegradedAndSaysWhy(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	c, ch := open(t, srv.URLWithPassword("wrong"), "bad", nil)
	if st := c.State(); st.Connected || !strings.Contains(st.Why, "password") {
		t.Fatalf("wrong password: state %s", st)
	}
	if len(ch.all()) != 1 {
		t.Fatalf("wrong password: changes %v, want one notice", ch.all())
	}
	addr := srv.Addr()
	srv.Kill()
	c2, _ := open(t, "redis://127.0.0.1:"+strings.Split(addr, ":")[1]+"/0", "bad", nil)
	if st := c2.State(); st.Connected || !strings.Contains(st.Why, "refused") {
		t.Fatalf("unreachable: state %s", st)
	}
	rel, err := c2.Limiter("api", Settings{Settings: throttle.Settings{PerMinute: 60}}, nil).Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

// rediss:// works with a server certificate the system roots (here: a pool)
// trust, and the password never shows in status or errors.
func TestTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TLS: true})
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, _ := open(t, srv.URL(), "tls", func(o *Options) { o.RootCAs = pool })
	if !c.State().Connected {
		t.Fatalf("rediss: %s", c.State())
	}
	if strings.Contains(c.URL(), srv.Password()) {
		t.Fatal("URL() shows the password")
	}
	// Untrusted certificate: degraded, saying so.
	bad, _ := open(t, srv.URL(), "tls", nil)
	if bad.State().Connected || strings.Contains(bad.State().Why, srv.Password()) {
		t.Fatalf("untrusted certificate: %s", bad.State())
	}
}

// Each instance is listed with its user and in-flight count; a closed one
// is not.
func TestInstances(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := open(t, srv.URL(), "team", func(o *Options) { o.User = "alice"; o.InFlight = func() int64 { return 3 } })
	b, _ := open(t, srv.URL(), "team", func(o *Options) { o.User = "bob" })
	other, _ := open(t, srv.URL(), "other-team", nil)
	_ = other
	list, err := a.Instances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].User != "alice" || list[0].InFlight != 3 || !list[0].Self || list[1].User != "bob" || list[1].Self {
		t.Fatalf("instances = %+v", list)
	}
	if st := a.Status(); st.State != "connected" || st.Namespace != "team" || st.Instance != a.ID() || len(st.Instances) == 0 ||
		strings.Contains(st.Redis, srv.Password()) {
		t.Fatalf("status = %+v", st)
	}
	_ = b.Close()
	list, _ = a.Instances(context.Background())
	if len(list) != 1 || list[0].ID != a.ID() {
		t.Fatalf("after bob left: %+v", list)
	}
}

// A Client that is built but never started touches no network, lets its
// limiters work locally and closes without waiting.
func TestNewWithoutStart(t *testing.T) {
	c, err := New(Options{URL: "redis://127.0.0.1:1/0", Namespace: "idle"})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.State != "degraded" || st.Why != "not started" {
		t.Fatalf("status = %+v", st)
	}
	local := throttle.New(throttle.Settings{MaxConcurrent: 1}, nil)
	l := c.Limiter("api", Settings{Settings: throttle.Settings{MaxConcurrent: 1}}, local)
	rel, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(context.Background()); err == nil {
		t.Fatal("the local limit does not apply before Start")
	}
	rel()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
