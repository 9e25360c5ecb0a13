package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of odd unsorted", ms(5, 1, 3), 50, 3 * time.Millisecond},
		{"p50 nearest rank of four", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(1, 100)...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(9, 2, 30), 100, 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		in   []float64
		want spread
	}{
		{nil, spread{}},
		{[]float64{3}, spread{Median: 3, Min: 3, Max: 3, N: 1}},
		{[]float64{5, 1, 9}, spread{Median: 5, Min: 1, Max: 9, N: 3}},
		{[]float64{4, 1, 2, 10}, spread{Median: 3, Min: 1, Max: 10, N: 4}},
	}
	for _, tt := range tests {
		in := slices.Clone(tt.in)
		if got := summarize(tt.in); got != tt.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("summarize reordered its input: %v, was %v", tt.in, in)
		}
	}
}

func TestRotateGivesEveryTargetEveryPlace(t *testing.T) {
	ts := []string{"direct", "nginx", "stock", "clearway"}
	first := map[string]bool{}
	for round := 0; round < len(ts); round++ {
		order := rotate(ts, round)
		if len(order) != len(ts) {
			t.Fatalf("round %d: order %v has %d targets, want %d", round, order, len(order), len(ts))
		}
		sorted := slices.Sorted(slices.Values(order))
		if !slices.Equal(sorted, slices.Sorted(slices.Values(ts))) {
			t.Fatalf("round %d: order %v is not a permutation of %v", round, order, ts)
		}
		first[order[0]] = true
	}
	if len(first) != len(ts) {
		t.Errorf("only %v went first in %d rounds", first, len(ts))
	}
}

// TestAggregatePairsRatiosWithinRounds checks that ratios and differences are
// computed against direct of the same round, not from medians.
func TestAggregatePairsRatiosWithinRounds(t *testing.T) {
	mk := func(round int, target string, rps, p50 float64) sample {
		return sample{Round: round, Target: target, Scenario: "json-c1", Metrics: map[string]float64{mRPS: rps, mP50: p50}}
	}
	r := &report{
		Targets:   []string{"direct", "clearway"},
		Scenarios: []scenario{{Name: "json-c1", Kind: kindJSON}},
		Samples: []sample{
			// Paired ratios 0.9, 0.5, 0.95 (median 0.9); the ratio of the
			// medians would be 1900/2000 = 0.95. Added p50 30, 10, 40
			// (median 30); the difference of medians would be 40.
			mk(0, "direct", 1000, 100), mk(0, "clearway", 900, 130),
			mk(1, "direct", 4000, 50), mk(1, "clearway", 2000, 60),
			mk(2, "direct", 2000, 80), mk(2, "clearway", 1900, 120),
		},
	}
	r.aggregate()
	ratio, ok := r.get("json-c1", "clearway", mRPS, "ratio")
	if !ok || ratio.Median != 0.9 || ratio.Min != 0.5 || ratio.Max != 0.95 {
		t.Errorf("rps ratio = %+v (found %v), want median 0.9, min 0.5, max 0.95", ratio, ok)
	}
	added, ok := r.get("json-c1", "clearway", mP50, "added")
	if !ok || added.Median != 30 || added.Min != 10 || added.Max != 40 {
		t.Errorf("added p50 = %+v (found %v), want median 30, min 10, max 40", added, ok)
	}
	if _, ok := r.get("json-c1", "direct", mRPS, "ratio"); ok {
		t.Error("direct has a ratio to itself")
	}
	var b strings.Builder
	if err := r.markdown(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| clearway | 1900 (900…2000) | 0.90 (0.50…0.95) |") {
		t.Errorf("markdown lacks the paired ratio row:\n%s", b.String())
	}
}

func TestWorseThanStock(t *testing.T) {
	r := &report{
		Targets:   []string{"direct", "stock", "clearway"},
		Scenarios: []scenario{{Name: "json-c50", Kind: kindJSON}},
		Samples: []sample{
			{Target: "stock", Scenario: "json-c50", Metrics: map[string]float64{mRPS: 1000, mCPU: 80, mPeakRSS: 10}},
			// 3% fewer req/s is noise; 20% more CPU is worse; less memory is better.
			{Target: "clearway", Scenario: "json-c50", Metrics: map[string]float64{mRPS: 970, mCPU: 96, mPeakRSS: 8}},
		},
	}
	r.aggregate()
	worse, compared := r.worseThanStock()
	if !compared {
		t.Fatal("nothing compared")
	}
	if len(worse) != 1 || !strings.Contains(worse[0].text, "CPU") || worse[0].overlap {
		t.Errorf("worse = %+v, want only the CPU figure, ranges apart", worse)
	}
}
