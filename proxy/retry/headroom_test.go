package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestHeadroom(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("anthropic-ratelimit-tokens-limit", "40000")
	h.Set("anthropic-ratelimit-tokens-remaining", "38000")
	h.Set("anthropic-ratelimit-tokens-reset", "2026-11-30T12:03:00Z")
	h.Set("anthropic-ratelimit-requests-remaining", "49")
	h.Set("x-ratelimit-limit-requests", "500")
	h.Set("x-ratelimit-remaining-requests", "0")
	h.Set("x-ratelimit-reset-requests", "6m0s")
	h.Set("anthropic-ratelimit-output-tokens-remaining", "-3") // nonsense: skipped
	got := Headroom(h, now)
	want := []Limit{
		{Name: "requests", Remaining: 49},
		{Name: "tokens", Limit: 40000, Remaining: 38000, Reset: time.Date(2026, 11, 30, 12, 3, 0, 0, time.UTC)},
		{Name: "requests", Limit: 500, Remaining: 0, Reset: now.Add(6 * time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("limit %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if Headroom(http.Header{}, now) != nil {
		t.Error("no headers gave limits")
	}
}
