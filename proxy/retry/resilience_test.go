package retry_test

import (
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

func TestExhausted(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	in2s := now.Add(2 * time.Second).Format(time.RFC3339)
	in9s := now.Add(9 * time.Second).Format(time.RFC3339)
	cases := []struct {
		name   string
		h      []string
		want   time.Duration
		source string
		ok     bool
	}{
		{"anthropic requests 0", []string{"anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", in2s}, 2 * time.Second, "anthropic-ratelimit-requests-reset", true},
		{"remaining left", []string{"anthropic-ratelimit-requests-remaining", "3", "anthropic-ratelimit-requests-reset", in2s}, 0, "", false},
		{"latest exhausted wins", []string{
			"anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", in2s,
			"anthropic-ratelimit-tokens-remaining", "0", "anthropic-ratelimit-tokens-reset", in9s,
			"anthropic-ratelimit-input-tokens-remaining", "5000", "anthropic-ratelimit-input-tokens-reset", now.Add(time.Hour).Format(time.RFC3339),
		}, 9 * time.Second, "anthropic-ratelimit-tokens-reset", true},
		{"openai duration", []string{"x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "1m30s"}, 90 * time.Second, "x-ratelimit-reset-requests", true},
		{"openai tokens 0", []string{"x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "12ms"}, 12 * time.Millisecond, "x-ratelimit-reset-tokens", true},
		{"no reset", []string{"x-ratelimit-remaining-requests", "0"}, 0, "", false},
		{"reset passed", []string{"anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", now.Add(-5 * time.Second).Format(time.RFC3339)}, 0, "", false},
		{"garbage reset", []string{"x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "-3s"}, 0, "", false},
		{"garbage remaining", []string{"x-ratelimit-remaining-requests", "none", "x-ratelimit-reset-requests", "3s"}, 0, "", false},
		{"nothing", nil, 0, "", false},
	}
	for _, tc := range cases {
		until, src, ok := retry.Exhausted(hdr(tc.h...), now)
		if ok != tc.ok || src != tc.source || (ok && until.Sub(now) != tc.want) {
			t.Errorf("%s: got %v %q %v, want +%v %q %v", tc.name, until.Sub(now), src, ok, tc.want, tc.source, tc.ok)
		}
	}
}

func TestClassifyKey(t *testing.T) {
	js := []string{"Content-Type", "application/json"}
	cf := []string{"Server", "cloudflare", "Cf-Ray", "8f00-FRA", "Content-Type", "text/html"}
	cases := []struct {
		name   string
		status int
		h      []string
		body   string
		want   retry.KeyProblem
		why    string
	}{
		{"ok", 200, js, `{}`, retry.KeyOK, ""},
		{"rate limited", 429, js, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`, retry.KeyRateLimited, "429"},
		{"overloaded", 529, js, `{"type":"error","error":{"type":"overloaded_error"}}`, retry.KeyRateLimited, "529"},
		{"invalid key", 401, js, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`, retry.KeyInvalid, "401"},
		{"openai invalid", 401, js, `{"error":{"code":"invalid_api_key","message":"Incorrect API key provided"}}`, retry.KeyInvalid, "401"},
		{"403 auth", 403, js, `{"type":"error","error":{"type":"authentication_error"}}`, retry.KeyInvalid, "403 authentication_error"},
		{"403 permission is not the key", 403, js, `{"type":"error","error":{"type":"permission_error","message":"model not allowed"}}`, retry.KeyOK, ""},
		{"spend cap", 429, js, `{"type":"error","error":{"type":"rate_limit_error","message":"enforced_spend_limit_reached"}}`, retry.KeyNoCredit, "enforced_spend_limit_reached"},
		{"credit", 400, js, `{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}`, retry.KeyNoCredit, "credit balance is too low"},
		{"openai quota", 429, js, `{"error":{"type":"insufficient_quota","code":"insufficient_quota"}}`, retry.KeyNoCredit, "insufficient_quota"},
		{"402", 402, js, `{}`, retry.KeyNoCredit, "402"},
		{"cloudflare 1015 is not the key", 429, cf, `<html>error code: 1015</html>`, retry.KeyOK, ""},
		{"cloudflare empty 403 is not the key", 403, cf, ``, retry.KeyOK, ""},
		{"cloudflare challenge", 403, append([]string{"Cf-Mitigated", "challenge"}, cf...), `<html>Just a moment...</html>`, retry.KeyOK, ""},
		{"api 401 through cloudflare", 401, []string{"Server", "cloudflare", "Content-Type", "application/json"}, `{"type":"error","error":{"type":"authentication_error"}}`, retry.KeyInvalid, "401"},
		{"bad request", 400, js, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens"}}`, retry.KeyOK, ""},
		{"500", 500, js, `{}`, retry.KeyOK, ""},
	}
	for _, tc := range cases {
		got, why := retry.ClassifyKey(tc.status, hdr(tc.h...), []byte(tc.body))
		if got != tc.want || why != tc.why {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, got, why, tc.want, tc.why)
		}
	}
}

func TestStealthDeny(t *testing.T) {
	cf := []string{"Server", "cloudflare", "Cf-Ray", "8f00-FRA"}
	cases := []struct {
		name   string
		status int
		h      []string
		body   string
		want   bool
	}{
		{"empty 403 from cloudflare", 403, cf, "", true},
		{"empty 404 from cloudflare", 404, cf, "  \n", true},
		{"html 403 from cloudflare", 403, append([]string{"Content-Type", "text/html"}, cf...), "<html>Forbidden</html>", true},
		{"cf-ray only", 404, []string{"Cf-Ray", "8f00-FRA"}, "", true},
		{"json 404 from the API", 404, append([]string{"Content-Type", "application/json"}, cf...), `{"type":"error","error":{"type":"not_found_error"}}`, false},
		{"challenge is not stealth", 403, append([]string{"Cf-Mitigated", "challenge", "Content-Type", "text/html"}, cf...), "<html>Just a moment...</html>", false},
		{"1015 page is not stealth", 403, append([]string{"Content-Type", "text/html"}, cf...), "<html>error code: 1015</html>", false},
		{"not cloudflare", 403, nil, "", false},
		{"429", 429, cf, "", false},
		{"200", 200, cf, "", false},
	}
	for _, tc := range cases {
		if got := retry.StealthDeny(tc.status, hdr(tc.h...), []byte(tc.body)); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
