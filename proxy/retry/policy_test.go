package retry_test

import (
	"math"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

func constJitter(j float64) func() float64 { return func() float64 { return j } }

func TestAttempts(t *testing.T) {
	for _, tt := range []struct{ retries, want int }{{-3, 1}, {0, 1}, {1, 2}, {5, 6}} {
		if got := (retry.Policy{MaxRetries: tt.retries}).Attempts(); got != tt.want {
			t.Errorf("MaxRetries %d: Attempts() = %d, want %d", tt.retries, got, tt.want)
		}
	}
}

func TestDelayBackoffDoublesAndCaps(t *testing.T) {
	p := retry.Policy{InitialDelay: time.Second, MaxDelay: 30 * time.Second, Jitter: constJitter(0)}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		got, reason := p.Delay(i+1, retry.Verdict{Retry: true})
		if got != w || reason != "backoff" {
			t.Errorf("attempt %d: Delay = %v %q, want %v \"backoff\"", i+1, got, reason, w)
		}
	}
	// Attempt numbers below 1 count as the first retry; huge ones stay capped.
	for _, attempt := range []int{0, -5, 64, 1000, math.MaxInt} {
		got, _ := p.Delay(attempt, retry.Verdict{})
		want := time.Second
		if attempt > 1 {
			want = 30 * time.Second
		}
		if got != want {
			t.Errorf("attempt %d: Delay = %v, want %v", attempt, got, want)
		}
	}
}

func TestDelayDefaults(t *testing.T) {
	p := retry.Policy{Jitter: constJitter(0)}
	if got, _ := p.Delay(1, retry.Verdict{}); got != retry.DefaultInitialDelay {
		t.Errorf("zero policy first delay = %v, want %v", got, retry.DefaultInitialDelay)
	}
	if got, _ := p.Delay(10, retry.Verdict{}); got != retry.DefaultMaxDelay {
		t.Errorf("zero policy capped delay = %v, want %v", got, retry.DefaultMaxDelay)
	}
	// A cap near the largest Duration must not overflow while doubling.
	huge := retry.Policy{InitialDelay: time.Hour, MaxDelay: time.Duration(math.MaxInt64), Jitter: constJitter(0)}
	if got, _ := huge.Delay(200, retry.Verdict{}); got <= 0 {
		t.Errorf("huge cap: Delay = %v, want positive", got)
	}
}

func TestDelayJitterBounds(t *testing.T) {
	for _, tt := range []struct {
		jitter float64
		want   time.Duration
	}{
		{0, 4 * time.Second},
		{0.5, 3500 * time.Millisecond},
		{0.999999, 3000000004 * time.Nanosecond},
		{1, 3 * time.Second},             // out of range: clamped
		{7, 3 * time.Second},             // out of range: clamped
		{-1, 4 * time.Second},            // negative: none
		{math.NaN(), 4 * time.Second},    // NaN: none
		{math.Inf(1), 3 * time.Second},   // +Inf: clamped
		{math.Inf(-1), 4 * time.Second},  // -Inf: none
		{0.25, 3750 * time.Millisecond},  // 4s * (1 - 0.0625)
		{0.125, 3875 * time.Millisecond}, // 4s * (1 - 0.03125)
		{0.0625, 3937500 * time.Microsecond},
	} {
		p := retry.Policy{InitialDelay: time.Second, MaxDelay: time.Minute, Jitter: constJitter(tt.jitter)}
		got, _ := p.Delay(3, retry.Verdict{})
		if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("jitter %v: Delay(3) = %v, want %v", tt.jitter, got, tt.want)
		}
	}
	// The default jitter (math/rand/v2) stays within [0.75, 1] of the backoff.
	p := retry.Policy{InitialDelay: time.Second, MaxDelay: time.Minute}
	for range 1000 {
		got, _ := p.Delay(2, retry.Verdict{})
		if got <= 1500*time.Millisecond || got > 2*time.Second {
			t.Fatalf("default jitter: Delay(2) = %v, want in (1.5s, 2s]", got)
		}
	}
}

func TestDelayHonoursServerWait(t *testing.T) {
	p := retry.Policy{InitialDelay: time.Second, MaxDelay: 30 * time.Second, Jitter: constJitter(0.9)}
	for _, tt := range []struct {
		name       string
		attempt    int
		v          retry.Verdict
		want       time.Duration
		wantReason string
	}{
		{"retry-after seconds, no jitter", 1, retry.Verdict{HasAfter: true, After: 3 * time.Second, AfterSource: "retry-after"}, 3 * time.Second, "retry-after 3s"},
		{"retry-after beyond backoff cap", 4, retry.Verdict{HasAfter: true, After: 45 * time.Second, AfterSource: "retry-after"}, 45 * time.Second, "retry-after 45s"},
		{"retry-after-ms", 2, retry.Verdict{HasAfter: true, After: 250 * time.Millisecond, AfterSource: "retry-after-ms"}, 250 * time.Millisecond, "retry-after-ms 250ms"},
		{"tiny wait floored at InitialDelay/4", 1, retry.Verdict{HasAfter: true, After: time.Millisecond, AfterSource: "retry-after-ms"}, 250 * time.Millisecond, "retry-after-ms 1ms"},
		{"reset header", 1, retry.Verdict{HasAfter: true, After: 12 * time.Second, AfterSource: "anthropic-ratelimit-requests-reset"}, 12 * time.Second, "anthropic-ratelimit-requests-reset 12s"},
		{"openai reset", 1, retry.Verdict{HasAfter: true, After: 1500 * time.Millisecond, AfterSource: "x-ratelimit-reset-tokens"}, 1500 * time.Millisecond, "x-ratelimit-reset-tokens 1.5s"},
		// Cloudflare's "Retry-After: 0": back off anyway, and keep doubling.
		{"retry-after 0 first", 1, retry.Verdict{HasAfter: true, After: 0, AfterSource: "retry-after"}, 775 * time.Millisecond, "retry-after 0s: backoff"},
		{"retry-after 0 third", 3, retry.Verdict{HasAfter: true, After: 0, AfterSource: "retry-after"}, 3100 * time.Millisecond, "retry-after 0s: backoff"},
		{"no wait", 2, retry.Verdict{}, 1550 * time.Millisecond, "backoff"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := p.Delay(tt.attempt, tt.v)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond || reason != tt.wantReason {
				t.Errorf("Delay(%d) = %v %q, want %v %q", tt.attempt, got, reason, tt.want, tt.wantReason)
			}
		})
	}
}
