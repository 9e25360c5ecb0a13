package retry_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

func benchClassify(b *testing.B, status int, h http.Header, body []byte) {
	p := retry.Policy{MaxRetries: 3, InitialDelay: time.Second, MaxDelay: 30 * time.Second}
	now := time.Now()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p.ClassifyResponse(status, h, body, now)
	}
}

func BenchmarkClassifyResponse(b *testing.B) {
	html := page(b, "cloudflare-1015.html")
	b.Run("200", func(b *testing.B) {
		benchClassify(b, 200, hdr("Content-Type", "application/json"), []byte(`{"id":"msg_1","type":"message"}`))
	})
	b.Run("429-json", func(b *testing.B) {
		benchClassify(b, 429, hdr("Content-Type", "application/json", "Retry-After", "3", "Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:12Z"),
			[]byte(`{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization"}}`))
	})
	b.Run("429-html", func(b *testing.B) {
		benchClassify(b, 429, hdr("Server", "cloudflare", "Content-Type", "text/html", "Retry-After", "0"), html)
	})
	b.Run("429-html-gzip", func(b *testing.B) {
		benchClassify(b, 429, hdr("Server", "cloudflare", "Content-Type", "text/html", "Content-Encoding", "gzip"), gzipBytes(b, html))
	})
	b.Run("429-html-br", func(b *testing.B) {
		benchClassify(b, 429, hdr("Server", "cloudflare", "Content-Type", "text/html", "Content-Encoding", "br"), brotliBytes(b, html))
	})
}
