package retry_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

func TestParseServerWait(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 400_000_000, time.UTC) // 12:00:00.4
	maxD := time.Duration(math.MaxInt64)
	for _, tt := range []struct {
		name    string
		h       http.Header
		want    time.Duration
		wantSrc string
		wantOK  bool
	}{
		{"none", hdr(), 0, "", false},
		{"unrelated headers", hdr("Content-Type", "text/html", "X-Ratelimit-Remaining-Tokens", "0"), 0, "", false},

		// retry-after-ms
		{"ms integer", hdr("Retry-After-Ms", "250"), 250 * time.Millisecond, "retry-after-ms", true},
		{"ms fractional", hdr("Retry-After-Ms", "1.5"), 1500 * time.Microsecond, "retry-after-ms", true},
		{"ms zero", hdr("Retry-After-Ms", "0"), 0, "retry-after-ms", true},
		{"ms spaces", hdr("Retry-After-Ms", "  20 "), 20 * time.Millisecond, "retry-after-ms", true},
		{"ms wins over retry-after", hdr("Retry-After-Ms", "100", "Retry-After", "30"), 100 * time.Millisecond, "retry-after-ms", true},
		{"ms negative falls through", hdr("Retry-After-Ms", "-5", "Retry-After", "2"), 2 * time.Second, "retry-after", true},
		{"ms garbage falls through", hdr("Retry-After-Ms", "soon", "Retry-After", "2"), 2 * time.Second, "retry-after", true},
		{"ms exponent rejected", hdr("Retry-After-Ms", "1e3"), 0, "", false},
		{"ms NaN rejected", hdr("Retry-After-Ms", "NaN"), 0, "", false},
		{"ms Inf rejected", hdr("Retry-After-Ms", "Inf"), 0, "", false},
		{"ms hex rejected", hdr("Retry-After-Ms", "0x10"), 0, "", false},
		{"ms huge saturates", hdr("Retry-After-Ms", "99999999999999999999999999"), maxD, "retry-after-ms", true},

		// Retry-After seconds
		{"seconds", hdr("Retry-After", "3"), 3 * time.Second, "retry-after", true},
		{"seconds zero (cloudflare)", hdr("Retry-After", "0"), 0, "retry-after", true},
		{"seconds fractional", hdr("Retry-After", "0.5"), 500 * time.Millisecond, "retry-after", true},
		{"seconds fraction to the ns", hdr("Retry-After", "1.0000000019"), time.Second + time.Nanosecond, "retry-after", true},
		{"seconds leading dot", hdr("Retry-After", ".25"), 250 * time.Millisecond, "retry-after", true},
		{"seconds trailing dot", hdr("Retry-After", "4."), 4 * time.Second, "retry-after", true},
		{"seconds big but fits", hdr("Retry-After", "86400"), 24 * time.Hour, "retry-after", true},
		{"seconds huge saturates", hdr("Retry-After", "9223372036854775807"), maxD, "retry-after", true},
		{"seconds overflow by fraction", hdr("Retry-After", "9223372036.9999999999"), maxD, "retry-after", true},
		{"seconds negative", hdr("Retry-After", "-1"), 0, "", false},
		{"seconds plus sign", hdr("Retry-After", "+3"), 0, "", false},
		{"seconds two dots", hdr("Retry-After", "1.2.3"), 0, "", false},
		{"seconds lone dot", hdr("Retry-After", "."), 0, "", false},
		{"seconds garbage", hdr("Retry-After", "later"), 0, "", false},
		{"seconds blank", hdr("Retry-After", "   "), 0, "", false},

		// Retry-After HTTP dates (IMF-fixdate, RFC 850, asctime), measured from now.
		{"date imf-fixdate", hdr("Retry-After", "Sun, 01 Jun 2025 12:00:10 GMT"), 9600 * time.Millisecond, "retry-after", true},
		{"date rfc850", hdr("Retry-After", "Sunday, 01-Jun-25 12:01:00 GMT"), 59600 * time.Millisecond, "retry-after", true},
		{"date asctime", hdr("Retry-After", "Sun Jun  1 12:00:05 2025"), 4600 * time.Millisecond, "retry-after", true},
		{"date now (whole second)", hdr("Retry-After", "Sun, 01 Jun 2025 12:00:00 GMT"), 0, "retry-after", true},
		{"date in the past", hdr("Retry-After", "Sun, 01 Jun 2025 11:59:00 GMT"), 0, "", false},
		{"date past falls through to reset", hdr("Retry-After", "Sun, 01 Jun 2025 11:59:00 GMT", "X-Ratelimit-Reset-Requests", "2s"), 2 * time.Second, "x-ratelimit-reset-requests", true},
		{"date far future", hdr("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), maxD, "retry-after", true},
		{"date garbage", hdr("Retry-After", "Sun, 32 Jun 2025 12:00:10 GMT"), 0, "", false},

		// Anthropic reset headers (RFC 3339).
		{"anthropic requests reset", hdr("Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:12.4Z"), 12 * time.Second, "anthropic-ratelimit-requests-reset", true},
		{"anthropic reset with offset", hdr("Anthropic-Ratelimit-Tokens-Reset", "2025-06-01T14:00:30+02:00"), 29600 * time.Millisecond, "anthropic-ratelimit-tokens-reset", true},
		{"anthropic reset now", hdr("Anthropic-Ratelimit-Input-Tokens-Reset", "2025-06-01T12:00:00Z"), 0, "anthropic-ratelimit-input-tokens-reset", true},
		{"anthropic reset past", hdr("Anthropic-Ratelimit-Output-Tokens-Reset", "2025-06-01T11:00:00Z"), 0, "", false},
		{"anthropic reset garbage", hdr("Anthropic-Ratelimit-Requests-Reset", "tomorrow"), 0, "", false},
		{"anthropic reset far future", hdr("Anthropic-Ratelimit-Requests-Reset", "9999-12-31T23:59:59Z"), maxD, "anthropic-ratelimit-requests-reset", true},
		{"retry-after wins over reset", hdr("Retry-After", "7", "Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:40Z"), 7 * time.Second, "retry-after", true},
		{"latest reset of all when none exhausted", hdr(
			"Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:05.4Z",
			"Anthropic-Ratelimit-Tokens-Reset", "2025-06-01T12:00:20.4Z",
			"Anthropic-Ratelimit-Output-Tokens-Reset", "2025-06-01T12:00:10.4Z",
		), 20 * time.Second, "anthropic-ratelimit-tokens-reset", true},
		{"exhausted limit preferred over a later one", hdr(
			"Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:05.4Z",
			"Anthropic-Ratelimit-Requests-Remaining", "0",
			"Anthropic-Ratelimit-Tokens-Reset", "2025-06-01T12:00:50.4Z",
			"Anthropic-Ratelimit-Tokens-Remaining", "39000",
		), 5 * time.Second, "anthropic-ratelimit-requests-reset", true},
		{"latest of the exhausted ones", hdr(
			"Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:05.4Z",
			"Anthropic-Ratelimit-Requests-Remaining", "0",
			"Anthropic-Ratelimit-Input-Tokens-Reset", "2025-06-01T12:00:08.4Z",
			"Anthropic-Ratelimit-Input-Tokens-Remaining", "0",
			"Anthropic-Ratelimit-Tokens-Reset", "2025-06-01T12:00:50.4Z",
			"Anthropic-Ratelimit-Tokens-Remaining", "100",
		), 8 * time.Second, "anthropic-ratelimit-input-tokens-reset", true},
		{"garbage reset skipped, good one used", hdr(
			"Anthropic-Ratelimit-Requests-Reset", "soon",
			"Anthropic-Ratelimit-Tokens-Reset", "2025-06-01T12:00:03.4Z",
		), 3 * time.Second, "anthropic-ratelimit-tokens-reset", true},

		// OpenAI reset headers (Go-like durations).
		{"openai 1s", hdr("X-Ratelimit-Reset-Requests", "1s"), time.Second, "x-ratelimit-reset-requests", true},
		{"openai 6m0s", hdr("X-Ratelimit-Reset-Tokens", "6m0s"), 6 * time.Minute, "x-ratelimit-reset-tokens", true},
		{"openai 12ms", hdr("X-Ratelimit-Reset-Tokens", "12ms"), 12 * time.Millisecond, "x-ratelimit-reset-tokens", true},
		{"openai 1m30.5s", hdr("X-Ratelimit-Reset-Tokens", "1m30.5s"), 90500 * time.Millisecond, "x-ratelimit-reset-tokens", true},
		{"openai bare zero", hdr("X-Ratelimit-Reset-Tokens", "0"), 0, "x-ratelimit-reset-tokens", true},
		{"openai negative", hdr("X-Ratelimit-Reset-Tokens", "-1s"), 0, "", false},
		{"openai unitless", hdr("X-Ratelimit-Reset-Tokens", "15"), 0, "", false},
		{"openai garbage", hdr("X-Ratelimit-Reset-Tokens", "1 minute"), 0, "", false},
		{"openai huge saturates", hdr("X-Ratelimit-Reset-Requests", "99999999999h"), maxD, "x-ratelimit-reset-requests", true},
		{"openai exhausted tokens preferred", hdr(
			"X-Ratelimit-Reset-Requests", "40s",
			"X-Ratelimit-Remaining-Requests", "3",
			"X-Ratelimit-Reset-Tokens", "2s",
			"X-Ratelimit-Remaining-Tokens", "0",
		), 2 * time.Second, "x-ratelimit-reset-tokens", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, src, ok := retry.ParseServerWait(tt.h, now)
			if got != tt.want || src != tt.wantSrc || ok != tt.wantOK {
				t.Errorf("ParseServerWait(%v) = %v, %q, %v; want %v, %q, %v", tt.h, got, src, ok, tt.want, tt.wantSrc, tt.wantOK)
			}
		})
	}
}
