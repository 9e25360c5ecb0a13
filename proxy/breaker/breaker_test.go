package breaker

import (
	"slices"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu      sync.Mutex
	changes []string
}

func (r *recorder) on(c Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c.Name+":"+c.From+">"+c.To)
	r.mu.Unlock()
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

func run(t *testing.T, b *Breaker, o Outcome) {
	t.Helper()
	done, _, ok := b.Allow()
	if !ok {
		t.Fatal("request not allowed")
	}
	done(o)
}

// waitState polls the breaker's state (gobreaker reads the wall clock) with a deadline.
func waitState(t *testing.T, b *Breaker, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", b.State(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpensAfterNFailuresInARowAndOneProbeCloses(t *testing.T) {
	var rec recorder
	b := New(Settings{Name: "primary", Failures: 3, Cooldown: 200 * time.Millisecond, OnChange: rec.on})
	run(t, b, Failure)
	run(t, b, Failure)
	run(t, b, Success) // resets the run
	run(t, b, Failure)
	run(t, b, Failure)
	if b.State() != Closed {
		t.Fatalf("open after 2 in a row: %s", b.State())
	}
	run(t, b, Failure)
	if b.State() != Open {
		t.Fatalf("state after 3 in a row: %s", b.State())
	}
	if _, after, ok := b.Allow(); ok || after < time.Second {
		t.Fatalf("open breaker allowed=%v retryAfter=%v, want refused with >= 1s", ok, after)
	}
	waitState(t, b, HalfOpen)
	probe, _, ok := b.Allow()
	if !ok {
		t.Fatal("half-open breaker refused the probe")
	}
	if _, _, ok := b.Allow(); ok {
		t.Fatal("a second request went out while the probe was pending")
	}
	probe(Success)
	if b.State() != Closed {
		t.Fatalf("after a good probe: %s", b.State())
	}
	want := []string{"primary:closed>open", "primary:open>half-open", "primary:half-open>closed"}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

func TestFailedProbeReopens(t *testing.T) {
	b := New(Settings{Name: "p", Failures: 1, Cooldown: 100 * time.Millisecond})
	run(t, b, Failure)
	waitState(t, b, HalfOpen)
	run(t, b, Failure)
	if b.State() != Open {
		t.Fatalf("after a failed probe: %s", b.State())
	}
}

func TestIgnoredOutcomesCountForNeitherSide(t *testing.T) {
	b := New(Settings{Name: "p", Failures: 2, Cooldown: time.Minute})
	run(t, b, Failure)
	run(t, b, Ignore)
	run(t, b, Failure)
	if b.State() != Open {
		t.Fatalf("an ignored outcome broke the run of failures: %s", b.State())
	}
}

func TestDoneTwiceCountsOnce(t *testing.T) {
	b := New(Settings{Name: "p", Failures: 2, Cooldown: time.Minute})
	done, _, _ := b.Allow()
	done(Failure)
	done(Failure)
	if b.State() != Closed {
		t.Fatal("one request counted twice")
	}
}

func TestOffBreakerAllowsEverything(t *testing.T) {
	b := New(Settings{Failures: 0})
	if b != nil {
		t.Fatal("Failures 0 gave a breaker")
	}
	for range 100 {
		run(t, b, Failure)
	}
	if b.State() != Closed {
		t.Fatal("nil breaker opened")
	}
}
