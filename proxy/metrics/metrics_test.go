package metrics

import (
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/clearway/clearway/proxy/usage"
)

// TestCachedChildrenCountEveryObservation observes requests from many
// goroutines at once, over upstreams and models first seen concurrently (the
// copy-on-write caches' additions, under -race), and checks that the
// registry counts each one under its own labels: the caches hand out
// children by upstream and model, and a wrong one would file counts
// elsewhere.
func TestCachedChildrenCountEveryObservation(t *testing.T) {
	m := New(Live{})
	const workers, each = 8, 200
	ups := []string{"a", "b", "c"}
	models := []string{"m1", "m2", "m3", "m4"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rec := usage.Record{Upstream: ups[(w+i)%len(ups)], Status: 200 + 300*(i%2), Attempts: 1 + i%3,
					Duration: time.Millisecond, Model: models[i%len(models)], HasTokens: true, RateRequests: -1, RateTokens: -1}
				rec.Tokens.Input, rec.Tokens.Output = 10, 1
				m.Observe(rec)
			}
		}()
	}
	wg.Wait()

	want := map[string]float64{} // family{labels} -> value
	for w := range workers {
		for i := range each {
			up, model := ups[(w+i)%len(ups)], models[i%len(models)]
			class := "2xx"
			if i%2 == 1 {
				class = "5xx"
			}
			want[fmt.Sprintf("clearway_requests_total{code=%s,upstream=%s}", class, up)]++
			want[fmt.Sprintf("clearway_retries_total{upstream=%s}", up)] += float64(i % 3)
			want[fmt.Sprintf("clearway_tokens_total{kind=input,model=%s,upstream=%s}", model, up)] += 10
			want[fmt.Sprintf("clearway_tokens_total{kind=output,model=%s,upstream=%s}", model, up)]++
		}
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			if c := mt.GetCounter(); c != nil {
				got[f.GetName()+labels(mt)] = c.GetValue()
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// labels renders a metric's labels as {name=value,...} in the registry's
// (sorted) order.
func labels(m *dto.Metric) string {
	s := "{"
	for i, l := range m.GetLabel() {
		if i > 0 {
			s += ","
		}
		s += l.GetName() + "=" + l.GetValue()
	}
	return s + "}"
}
