package retry_test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ (go test fuzz v1) and run
// as ordinary tests with every `go test`.

var waitSources = map[string]bool{
	"retry-after-ms": true, "retry-after": true,
	"anthropic-ratelimit-requests-reset": true, "anthropic-ratelimit-tokens-reset": true,
	"anthropic-ratelimit-input-tokens-reset": true, "anthropic-ratelimit-output-tokens-reset": true,
	"x-ratelimit-reset-requests": true, "x-ratelimit-reset-tokens": true,
}

func FuzzParseServerWait(f *testing.F) {
	f.Fuzz(func(t *testing.T, ms, retryAfter, anthropicReset, anthropicRemaining, openaiReset string, nowUnix int64) {
		h := http.Header{}
		for name, v := range map[string]string{
			"Retry-After-Ms":                          ms,
			"Retry-After":                             retryAfter,
			"Anthropic-Ratelimit-Tokens-Reset":        anthropicReset,
			"Anthropic-Ratelimit-Tokens-Remaining":    anthropicRemaining,
			"Anthropic-Ratelimit-Requests-Reset":      anthropicReset,
			"X-Ratelimit-Reset-Tokens":                openaiReset,
			"X-Ratelimit-Remaining-Tokens":            anthropicRemaining,
			"Anthropic-Ratelimit-Output-Tokens-Reset": openaiReset,
		} {
			if v != "" {
				h.Set(name, v)
			}
		}
		now := time.Unix(nowUnix, 0)
		d, src, ok := retry.ParseServerWait(h, now)
		if ok {
			if d < 0 || !waitSources[src] {
				t.Fatalf("ParseServerWait = %v, %q, true: want a non-negative wait from a known header", d, src)
			}
		} else if d != 0 || src != "" {
			t.Fatalf("ParseServerWait = %v, %q, false: want zero values", d, src)
		}
		d2, src2, ok2 := retry.ParseServerWait(h, now)
		if d2 != d || src2 != src || ok2 != ok {
			t.Fatalf("ParseServerWait is not deterministic")
		}
	})
}

var cloudflareKinds = map[string]bool{
	"": true, retry.CloudflareChallenge: true, retry.Cloudflare1015: true,
	retry.Cloudflare1200: true, retry.CloudflareRateLimited: true,
}

// asciiCase upper- or lower-cases ASCII letters and leaves every other byte alone.
func asciiCase(b []byte, upper bool) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		switch {
		case upper && 'a' <= c && c <= 'z':
			out[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			out[i] = c - 'A' + 'a'
		}
	}
	return out
}

func FuzzCloudflareKind(f *testing.F) {
	f.Fuzz(func(t *testing.T, server, cfRay, cfMitigated, contentType string, body []byte) {
		h := http.Header{}
		for name, v := range map[string]string{"Server": server, "Cf-Ray": cfRay, "Cf-Mitigated": cfMitigated, "Content-Type": contentType} {
			if v != "" {
				h.Set(name, v)
			}
		}
		kind := retry.CloudflareKind(h, body)
		if !cloudflareKinds[kind] {
			t.Fatalf("CloudflareKind = %q, not a known kind", kind)
		}
		// Matching is case-insensitive: changing the case of ASCII letters in
		// the body changes nothing.
		if up := retry.CloudflareKind(h, asciiCase(body, true)); up != kind {
			t.Fatalf("CloudflareKind = %q, but %q on the upper-cased body", kind, up)
		}
		if low := retry.CloudflareKind(h, asciiCase(body, false)); low != kind {
			t.Fatalf("CloudflareKind = %q, but %q on the lower-cased body", kind, low)
		}
	})
}

func FuzzClassifyResponse(f *testing.F) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := retry.Policy{MaxRetries: 3, InitialDelay: time.Second, MaxDelay: 30 * time.Second, MaxRetryAfter: time.Minute}
	f.Fuzz(func(t *testing.T, status int, xShouldRetry, retryAfter, contentEncoding, server, cfMitigated string, body []byte) {
		h := http.Header{}
		for name, v := range map[string]string{
			"X-Should-Retry": xShouldRetry, "Retry-After": retryAfter, "Content-Encoding": contentEncoding,
			"Server": server, "Cf-Mitigated": cfMitigated,
		} {
			if v != "" {
				h.Set(name, v)
			}
		}
		if len(body) > retry.PeekLimit {
			body = body[:retry.PeekLimit]
		}
		v := p.ClassifyResponse(status, h, body, now)
		switch {
		case v.Reason == "":
			t.Fatalf("%d: empty reason in %+v", status, v)
		case status < 400 && (v.Retry || v.TooLong):
			t.Fatalf("%d: a status below 400 must never be retried: %+v", status, v)
		case v.Retry && v.TooLong:
			t.Fatalf("%d: Retry and TooLong together: %+v", status, v)
		case v.TooLong && (!v.HasAfter || v.After <= time.Minute):
			t.Fatalf("%d: TooLong without a wait over the limit: %+v", status, v)
		case v.Retry && v.HasAfter && v.After > time.Minute:
			t.Fatalf("%d: retrying despite a wait over the limit: %+v", status, v)
		case !cloudflareKinds[v.Cloudflare]:
			t.Fatalf("%d: unknown Cloudflare kind %q", status, v.Cloudflare)
		case v.Retry && v.Reason == "spend limit":
			t.Fatalf("%d: spend limit retried", status)
		}
		if v.Retry {
			if d, reason := p.Delay(1, v); d <= 0 || reason == "" {
				t.Fatalf("%d: Delay(1, %+v) = %v %q, want a positive wait and a reason", status, v, d, reason)
			}
		}
		if retry.NeedsBody(status, h) == false && status >= 400 && len(body) > 0 {
			// Without a body the verdict must not change when the proxy was
			// told the body was not needed.
			if v2 := p.ClassifyResponse(status, h, nil, now); v2.Retry != v.Retry {
				t.Fatalf("%d: NeedsBody false but the body changed the verdict: %+v vs %+v", status, v, v2)
			}
		}
	})
}

func FuzzDecodeBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentEncoding string, body []byte) {
		out := retry.DecodeBody(contentEncoding, body)
		if len(out) > retry.MaxDecodedBody {
			t.Fatalf("DecodeBody returned %d bytes, over the cap", len(out))
		}
		if len(body) == 0 {
			return
		}
		// Whatever the fuzzer found, a real encoder's output must come back
		// whole, and half of it must decode to a prefix. One encoder per input
		// (chosen by its length) keeps each run cheap.
		want := body[:min(len(body), retry.MaxDecodedBody)]
		encoders := []struct {
			name string
			pool *sync.Pool
		}{
			{"gzip", &fastGzipWriters}, {"br", &fastBrotliWriters}, {"deflate", &fastZlibWriters}, {"deflate", &fastFlateWriters},
		}
		enc := encoders[len(body)%len(encoders)]
		data := compress(t, enc.pool, body)
		if got := retry.DecodeBody(enc.name, data); !bytes.Equal(got, want) {
			t.Fatalf("%s round trip: got %d bytes, want %d", enc.name, len(got), len(want))
		}
		cut := data[:len(data)/2]
		if got := retry.DecodeBody(enc.name, cut); !bytes.HasPrefix(body, got) && !bytes.Equal(got, cut) {
			t.Fatalf("%s: the first %d bytes decoded to something else than a prefix", enc.name, len(cut))
		}
	})
}
