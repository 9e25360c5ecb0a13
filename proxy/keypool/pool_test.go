package keypool

import (
	"errors"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)} }

func pick(t *testing.T, p *Pool) (string, time.Duration) {
	t.Helper()
	n, w, err := p.Pick(nil)
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return n, w
}

func TestRateLimitedKeyCoolsUntilItsResetAndComesBackFirst(t *testing.T) {
	c := newClock()
	p := New([]string{"a", "b"}, Options{Now: c.now})
	if n, w := pick(t, p); n != "a" || w != 0 {
		t.Fatalf("first pick %q %v, want a at once", n, w)
	}
	p.Cool("a", c.now().Add(30*time.Second), "429")
	if n, w := pick(t, p); n != "b" || w != 0 {
		t.Fatalf("while a cools: %q %v, want b at once", n, w)
	}
	st := p.Status()
	if st[0].State != StateCooling || st[0].Until == nil || !st[0].Until.Equal(c.now().Add(30*time.Second)) || st[0].Why != "429" || st[1].State != StateReady {
		t.Fatalf("status %+v", st)
	}
	c.add(29 * time.Second)
	if n, _ := pick(t, p); n != "b" {
		t.Fatalf("1 s before the reset: %q, want b", n)
	}
	c.add(time.Second)
	if n, w := pick(t, p); n != "a" || w != 0 {
		t.Fatalf("after the reset: %q %v, want a (preferred) at once", n, w)
	}
}

func TestAllCoolingReturnsTheSoonest(t *testing.T) {
	c := newClock()
	p := New([]string{"a", "b"}, Options{Now: c.now})
	p.Cool("a", c.now().Add(20*time.Second), "429")
	p.Cool("b", c.now().Add(5*time.Second), "anthropic-ratelimit-requests-reset")
	if n, w := pick(t, p); n != "b" || w != 5*time.Second {
		t.Fatalf("got %q %v, want b in 5s", n, w)
	}
	if p.Ready("") {
		t.Fatal("Ready with every key cooling")
	}
}

func TestCooldownNeverShortens(t *testing.T) {
	c := newClock()
	p := New([]string{"a"}, Options{Now: c.now})
	p.Cool("a", c.now().Add(20*time.Second), "429")
	if got := p.Cool("a", c.now().Add(3*time.Second), "429"); !got.Equal(c.now().Add(20 * time.Second)) {
		t.Fatalf("shortened to %v", got.Sub(c.now()))
	}
}

func TestCooldownWithoutResetDoublesFromTwiceTheInitialDelay(t *testing.T) {
	c := newClock()
	p := New([]string{"a"}, Options{Now: c.now, InitialCooldown: time.Second, MaxCooldown: 5 * time.Second})
	want := []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		until := p.Cool("a", time.Time{}, "429")
		if got := until.Sub(c.now()); got != w {
			t.Fatalf("rate limit %d in a row: cooldown %v, want %v", i+1, got, w)
		}
		c.add(w)
	}
	p.Succeeded("a")
	if got := p.Cool("a", time.Time{}, "429").Sub(c.now()); got != 2*time.Second {
		t.Fatalf("after a success: %v, want 2s again", got)
	}
}

func TestRefusedKeyIsSetAsideOnceUntilForgiven(t *testing.T) {
	c := newClock()
	p := New([]string{"a", "b"}, Options{Now: c.now})
	if !p.Refuse("a", "401") {
		t.Fatal("first refusal not reported as first")
	}
	if p.Refuse("a", "401") {
		t.Fatal("second refusal reported as first: the user would be notified twice")
	}
	c.add(24 * time.Hour)
	if n, _ := pick(t, p); n != "b" {
		t.Fatalf("refused key picked a day later: %q", n)
	}
	if st := p.Status(); st[0].State != StateRefused || st[0].Why != "401" || st[0].Until != nil {
		t.Fatalf("status %+v", st[0])
	}
	p.Refuse("b", "enforced_spend_limit_reached")
	if _, _, err := p.Pick(nil); !errors.Is(err, ErrAllRefused) {
		t.Fatalf("all refused: err %v", err)
	}
	p.Forgive("a")
	if n, w := pick(t, p); n != "a" || w != 0 {
		t.Fatalf("forgiven key: %q %v", n, w)
	}
	if !p.Refuse("a", "401") {
		t.Fatal("a key refused again after Forgive must notify again")
	}
}

func TestEmptyAndNilPools(t *testing.T) {
	var nilPool *Pool
	if _, _, err := nilPool.Pick(nil); err == nil {
		t.Fatal("nil pool picked a key")
	}
	if nilPool.Len() != 0 || nilPool.Status() != nil || nilPool.Refuse("a", "x") {
		t.Fatal("nil pool not empty")
	}
	p := New([]string{"a", "a"}, Options{})
	if p.Len() != 1 {
		t.Fatalf("duplicates kept: %v", p.Names())
	}
	p.Cool("nope", time.Time{}, "429") // unknown names are ignored
}

func TestConcurrentUse(t *testing.T) {
	c := newClock()
	p := New([]string{"a", "b", "c"}, Options{Now: c.now})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				n, _, err := p.Pick(nil)
				if err != nil {
					continue
				}
				switch (i + j) % 4 {
				case 0:
					p.Cool(n, time.Time{}, "429")
				case 1:
					p.Succeeded(n)
				case 2:
					_ = p.Status()
				case 3:
					c.add(time.Second)
				}
			}
		}()
	}
	wg.Wait()
}

func TestPickSkipsKeysTheCallerCannotUse(t *testing.T) {
	p := New([]string{"a", "b"}, Options{})
	n, _, err := p.Pick(func(name string) bool { return name == "a" })
	if err != nil || n != "b" {
		t.Fatalf("got %q %v, want b", n, err)
	}
	if _, _, err := p.Pick(func(string) bool { return true }); !errors.Is(err, ErrNoKey) {
		t.Fatalf("all skipped: %v, want ErrNoKey", err)
	}
	p.Refuse("b", "401")
	if _, _, err := p.Pick(func(name string) bool { return name == "a" }); !errors.Is(err, ErrAllRefused) {
		t.Fatalf("the only usable key refused: %v, want ErrAllRefused", err)
	}
}

func TestUsableCountsCoolingKeysButNotRefusedOnes(t *testing.T) {
	c := newClock()
	p := New([]string{"a", "b"}, Options{Now: c.now})
	p.Cool("b", c.now().Add(time.Minute), "429")
	if !p.Usable("a") || p.Ready("a") {
		t.Fatal("a cooling b is usable but not ready")
	}
	p.Refuse("b", "401")
	if p.Usable("a") {
		t.Fatal("a refused key counted as usable")
	}
}

func TestExhaustIsASoftCooldownThatNeverShortens(t *testing.T) {
	c := newClock()
	p := New([]string{"a"}, Options{Now: c.now})
	p.Exhaust("a", c.now().Add(10*time.Second), "x-ratelimit-reset-tokens")
	if st := p.Status()[0]; st.State != StateCooling || !st.Exhausted || st.Why != "x-ratelimit-reset-tokens" {
		t.Fatalf("status %+v", st)
	}
	p.Exhaust("a", c.now().Add(time.Second), "later")
	p.Cool("a", c.now().Add(5*time.Second), "429")
	if st := p.Status()[0]; !st.Until.Equal(c.now().Add(10*time.Second)) || !st.Exhausted {
		t.Fatalf("a shorter cooldown replaced a longer one: %+v", st)
	}
	p.Cool("a", c.now().Add(20*time.Second), "429")
	if st := p.Status()[0]; st.Exhausted || st.Why != "429" {
		t.Fatalf("a longer 429 cooldown must be hard: %+v", st)
	}
}
