package usage

import (
	"math"
	"testing"
)

func TestPrices(t *testing.T) {
	p := DefaultPrices()
	if p.Date == "" {
		t.Fatal("the embedded table has no date")
	}
	usd, ok := p.Cost("claude-sonnet-4-5-20250929", Tokens{Input: 1e6, Output: 1e6, CacheRead: 1e6, CacheWrite: 1e6})
	if !ok || math.Abs(usd-(3+15+0.3+3.75)) > 1e-9 {
		t.Errorf("sonnet cost %v %v", usd, ok)
	}
	// Longest prefix wins: gpt-4o-mini is not priced as gpt-4o.
	mini, _ := p.Lookup("gpt-4o-mini-2024-07-18")
	full, _ := p.Lookup("gpt-4o-2024-08-06")
	if mini == full {
		t.Error("gpt-4o-mini priced as gpt-4o")
	}
	if _, ok := p.Cost("llama-3", Tokens{Input: 5}); ok {
		t.Error("an unknown model has a price")
	}
	over := p.With(map[string]Price{"llama-3": {Input: 1}, "Claude-Sonnet-4": {Input: 10}})
	if usd, ok := over.Cost("llama-3-70b", Tokens{Input: 2e6}); !ok || usd != 2 {
		t.Errorf("override: %v %v", usd, ok)
	}
	if pr, _ := over.Lookup("claude-sonnet-4-5"); pr.Input != 10 {
		t.Errorf("override of an embedded entry: %+v", pr)
	}
	if pr, _ := p.Lookup("claude-sonnet-4-5"); pr.Input != 3 {
		t.Error("With changed the original table")
	}
	if err := ValidatePrices(map[string]Price{"x": {Output: -1}}); err == nil {
		t.Error("a negative price was accepted")
	}
}
