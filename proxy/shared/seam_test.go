//go:build unix

package shared

import (
	"context"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/redistest"
	"github.com/clearway/clearway/proxy/seam"
	"github.com/clearway/clearway/proxy/throttle"
)

// The seam.Limiter of two instances: pauses cross over, a pool's key pause
// holds only that key, and an unknown upstream is not limited.
func TestLimitersSeam(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := open(t, srv.URL(), "seam", nil)
	b, _ := open(t, srv.URL(), "seam", nil)
	ups := map[string]Upstream{
		"one":  {Settings: Settings{Settings: throttle.Settings{MaxConcurrent: 1}}, Keys: []string{"k"}},
		"pool": {Keys: []string{"k1", "k2"}},
	}
	var la, lb seam.Limiter = a.Limiters(ups), b.Limiters(ups)
	ctx := context.Background()
	rel, err := la.Acquire(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lb.Acquire(ctx, "one"); err == nil {
		t.Fatal("max_concurrent 1 not shared through the seam")
	}
	rel()
	la.Pause("one", "k", time.Now().Add(5*time.Second)) // the only key: the whole upstream
	if _, err := lb.Acquire(ctx, "one"); err == nil {
		t.Fatal("pause not shared through the seam")
	}
	la.Pause("pool", "k1", time.Now().Add(5*time.Second))
	if rel, err := lb.Acquire(ctx, "pool"); err != nil {
		t.Fatalf("one key of a pool paused: %v", err)
	} else {
		rel()
	}
	if rel, err := lb.Acquire(ctx, "unknown"); err != nil {
		t.Fatal(err)
	} else {
		rel()
	}
	lb.Charge("pool", "k1", 10)
	if lb.Waiting("pool") != 0 || lb.Waiting("unknown") != 0 {
		t.Fatal("nothing waits")
	}
}
