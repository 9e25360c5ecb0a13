package retry_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clearway/clearway/proxy/retry"
)

func TestCloudflareKind(t *testing.T) {
	cf := func(kv ...string) http.Header {
		return hdr(append([]string{"Server", "cloudflare", "Cf-Ray", "8a1b2c3d4e5f6789-FRA"}, kv...)...)
	}
	html := "text/html; charset=UTF-8"
	for _, tt := range []struct {
		name string
		h    http.Header
		body string
		want string
	}{
		{"challenge header", cf("Cf-Mitigated", "challenge", "Content-Type", html), string(page(t, "cloudflare-challenge.html")), retry.CloudflareChallenge},
		{"challenge header, any case, no body", hdr("Cf-Mitigated", " Challenge "), "", retry.CloudflareChallenge},
		{"challenge page without the header", cf("Content-Type", html), string(page(t, "cloudflare-challenge.html")), ""},
		{"1015 html page", cf("Content-Type", html), string(page(t, "cloudflare-1015.html")), retry.Cloudflare1015},
		{"1015 plain text", cf("Content-Type", "text/plain; charset=UTF-8"), "error code: 1015", retry.Cloudflare1015},
		{"1015 plain text, no cloudflare headers", hdr(), "error code: 1015\n", retry.Cloudflare1015},
		{"1015 upper case and spaces", hdr(), "  ERROR   CODE:\t1015 ", retry.Cloudflare1015},
		{"1015 no colon", hdr(), "Error code 1015", retry.Cloudflare1015},
		{"1015 no space after colon", hdr(), "error code:1015", retry.Cloudflare1015},
		{"1015 split by tags and nbsp", hdr("Content-Type", html), "<h1><span>Error</span>&nbsp;\n<b>1015</b></h1>", retry.Cloudflare1015},
		{"1015 split by U+00A0", hdr(), "Error\u00a01015", retry.Cloudflare1015},
		{"1015 wins over 1200", hdr(), "error 1200 ... error code: 1015", retry.Cloudflare1015},
		{"1200 html page", cf("Content-Type", html), string(page(t, "cloudflare-1200.html")), retry.Cloudflare1200},
		{"1200 html page, headers stripped by an intermediary", hdr("Content-Type", html), string(page(t, "cloudflare-1200.html")), retry.Cloudflare1200},
		{"1200 plain", hdr(), "Error 1200", retry.Cloudflare1200},
		{"longer number is not the code", hdr(), "error code: 10150", ""},
		{"code not preceded by error", hdr(), "code 1015", ""},
		{"code inside a word", hdr(), "myerror 1015", ""},
		{"rate-limited html by cloudflare", cf("Content-Type", html), "<html><body><h2>This website has been temporarily\n rate limited</h2></body></html>", retry.CloudflareRateLimited},
		{"being rate limited, sniffed html", hdr("Cf-Ray", "x"), "  <!DOCTYPE html><p>You are being <em>rate limited</em></p>", retry.CloudflareRateLimited},
		{"rate limited phrase but not cloudflare", hdr("Content-Type", html, "Server", "nginx"), "<p>You are being rate limited</p>", ""},
		{"rate limited phrase in cloudflare json", cf("Content-Type", "application/json"), `{"error":{"message":"You are being rate limited"}}`, ""},
		{"code in an API's json message", hdr("Content-Type", "application/json"), `{"error":{"type":"invalid_request_error","message":"error 1200 tokens is too many"}}`, ""},
		{"code in sniffed json", hdr(), ` {"message":"error code: 1015"}`, ""},
		{"code in json served by cloudflare", cf("Content-Type", "application/json"), `{"error":"error code: 1015"}`, retry.Cloudflare1015},
		{"anthropic 429 json", hdr("Content-Type", "application/json", "Server", "cloudflare"), `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, ""},
		{"empty", cf(), "", ""},
		{"tag cut off by truncation", hdr(), "error code: 1015 <div class=\"x", retry.Cloudflare1015},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := retry.CloudflareKind(tt.h, []byte(tt.body)); got != tt.want {
				t.Errorf("CloudflareKind = %q, want %q (body %.80q)", got, tt.want, tt.body)
			}
		})
	}
}

func TestCloudflareKindMarkerPastPeekIsUnseen(t *testing.T) {
	// The proxy only peeks PeekLimit bytes: a marker after them is not seen,
	// and the verdict falls back to the status.
	body := strings.Repeat("<p>filler</p>\n", retry.PeekLimit/14+10) + "error code: 1015"
	peek := []byte(body)[:retry.PeekLimit]
	if got := retry.CloudflareKind(hdr("Server", "cloudflare"), peek); got != "" {
		t.Errorf("CloudflareKind on the first %d bytes = %q, want \"\"", retry.PeekLimit, got)
	}
	if got := retry.CloudflareKind(hdr("Server", "cloudflare"), []byte(body)); got != retry.Cloudflare1015 {
		t.Errorf("CloudflareKind on the whole body = %q, want %q", got, retry.Cloudflare1015)
	}
}
