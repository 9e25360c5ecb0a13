//go:build unix

package shared

import (
	"context"
	"testing"

	"github.com/clearway/clearway/internal/redistest"
	"github.com/clearway/clearway/proxy/throttle"
)

// BenchmarkAcquire is what shared limits add to one request with Redis on
// loopback: the pause check, a rate token, a concurrency lease and its
// release. (go test -run '^$' -bench Acquire ./proxy/shared)
func BenchmarkAcquire(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	c, err := Open(Options{URL: srv.URL(), Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name string
		s    Settings
	}{
		{"pause-only", Settings{}},
		{"rate+concurrency", Settings{Settings: throttle.Settings{PerMinute: 1e8, Burst: 1e6, MaxConcurrent: 1000}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			l := c.Limiter(tc.name, tc.s, nil)
			ctx := context.Background()
			for b.Loop() {
				rel, err := l.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				rel()
			}
			if c.Status().LocalTurns > 0 {
				b.Fatalf("%d turns taken locally: Redis was not in use", c.Status().LocalTurns)
			}
		})
	}
}
