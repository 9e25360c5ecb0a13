package tray

import (
	"fmt"
	"testing"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/health"
)

// bigState is a state with many upstreams and keys, to bound the cost of a
// menu update under load (the app may have a new snapshot with every request).
func bigState() view.Snapshot {
	s := fullState()
	for i := 0; i < 20; i++ {
		s.Upstreams = append(s.Upstreams, view.Upstream{Name: fmt.Sprintf("u%d", i), Health: health.OK, Requests: uint64(i), Cookies: i})
		s.Keys = append(s.Keys, view.Key{Name: fmt.Sprintf("k%d", i), Set: i%2 == 0})
	}
	return s
}

func BenchmarkBuildModelAndCompare(b *testing.B) {
	s := bigState()
	prev := buildModel(s)
	b.ReportAllocs()
	for b.Loop() {
		s.Upstreams[0].Requests++
		m := buildModel(s)
		if !sameShape(prev, m) {
			b.Fatal("shape changed with a counter")
		}
		_ = tooltip(s)
		_ = iconState(s)
	}
}

func BenchmarkCoalescerBurst(b *testing.B) {
	var c Coalescer
	e := retrying("anthropic", 2)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		c.Decide(e, now)
	}
}
