package throttle

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/seam"
)

// fakeClock advances only when a Sleep asks it to, and records the sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	block  chan struct{} // when non-nil, Sleep waits on it (or ctx) instead of returning
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	block := c.block
	c.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

func TestNoLimitsLetsAllThrough(t *testing.T) {
	l := New(Settings{}, nil)
	for range 100 {
		release, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
	}
	if l.Waiting() != 0 {
		t.Fatalf("Waiting = %d, want 0", l.Waiting())
	}
}

func TestLocalLimitsPerUpstream(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0), block: make(chan struct{})}
	l := NewLocal(map[string]Settings{"a": {MaxConcurrent: 1}}, clk)
	ctx := context.Background()
	release, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Acquire(ctx, "a")
	var refused *seam.Refused
	if !errors.As(err, &refused) || !errors.Is(err, seam.ErrRefused) || refused.Reason != "concurrency" {
		t.Fatalf("second request to a: err = %v, want a concurrency refusal", err)
	}
	for range 3 { // b has no settings: never limited
		if _, err := l.Acquire(ctx, "b"); err != nil {
			t.Fatalf("b: %v", err)
		}
	}
	release()
	r2, err := l.Acquire(ctx, "a")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	r2()
	if l.Waiting("a") != 0 || l.Waiting("b") != 0 {
		t.Fatal("nothing should be waiting")
	}
}

func TestRateWaitsThenRefusesPastMaxWait(t *testing.T) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	// 60/min = one per second, burst 1, wait at most 2.5s.
	l := New(Settings{PerMinute: 60, Burst: 1, MaxWait: 2500 * time.Millisecond}, clk)
	ctx := context.Background()
	for i := range 3 {
		release, err := l.Acquire(ctx)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		release()
	}
	// The first went at once; the next two each waited one second.
	if got := len(clk.sleeps); got != 2 || clk.sleeps[0] != time.Second || clk.sleeps[1] != time.Second {
		t.Fatalf("sleeps = %v, want [1s 1s]", clk.sleeps)
	}
	// Reserve three more without the clock moving: the third would wait 3s > 2.5s.
	clk.block = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := l.Acquire(ctx)
			if err == nil {
				release()
			}
			errs <- err
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Waiting() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling a condition with a deadline, not waiting for time
	}
	_, err := l.Acquire(ctx)
	var refused *Refused
	if !errors.As(err, &refused) || !errors.Is(err, ErrQueueFull) || refused.Reason != "rate" {
		t.Fatalf("third queued request: err = %v, want a rate refusal", err)
	}
	if refused.RetryAfter != 3*time.Second {
		t.Errorf("RetryAfter = %s, want 3s", refused.RetryAfter)
	}
	close(clk.block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("queued request: %v", err)
		}
	}
}

func TestConcurrencyLimit(t *testing.T) {
	l := New(Settings{MaxConcurrent: 2, MaxWait: time.Hour}, &fakeClock{now: time.Unix(0, 0), block: make(chan struct{})})
	ctx := context.Background()
	r1, err1 := l.Acquire(ctx)
	r2, err2 := l.Acquire(ctx)
	if err1 != nil || err2 != nil || l.Active() != 2 {
		t.Fatalf("two slots: %v %v active=%d", err1, err2, l.Active())
	}
	got := make(chan error, 1)
	go func() {
		r3, err := l.Acquire(ctx)
		if err == nil {
			r3()
		}
		got <- err
	}()
	r1()
	r1() // a second release is a no-op
	if err := <-got; err != nil {
		t.Fatalf("third request after a release: %v", err)
	}
	r2()
	if l.Active() != 0 {
		t.Fatalf("active = %d after all releases", l.Active())
	}
}

func TestConcurrencyRefusedWhenWaitEnds(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)} // Sleep returns at once: the wait "expires"
	l := New(Settings{MaxConcurrent: 1, MaxWait: time.Second}, clk)
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = l.Acquire(context.Background())
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v, want ErrQueueFull", err)
	}
}

func TestCancelledWhileWaiting(t *testing.T) {
	l := New(Settings{MaxConcurrent: 1, MaxWait: time.Hour}, &fakeClock{block: make(chan struct{})})
	release, _ := l.Acquire(context.Background())
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { _, err := l.Acquire(ctx); got <- err }()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
