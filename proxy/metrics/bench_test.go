package metrics

import (
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// BenchmarkObserve measures counting one finished request with tokens, the
// call every request makes (figures only; see -benchmem for allocations).
func BenchmarkObserve(b *testing.B) {
	m := New(Live{})
	rec := usage.Record{Upstream: "api", Status: 200, Attempts: 1, Duration: 3 * time.Millisecond,
		Model: "claude", HasTokens: true, RateRequests: -1, RateTokens: 5}
	rec.Tokens.Input, rec.Tokens.Output = 12, 240
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(rec)
	}
}
