package retry_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

func TestNeedsBody(t *testing.T) {
	for _, tt := range []struct {
		status int
		h      http.Header
		want   bool
	}{
		{100, hdr(), false},
		{200, hdr("Content-Type", "text/html"), false},
		{204, hdr(), false},
		{301, hdr("Location", "/x"), false},
		{304, hdr(), false},
		{399, hdr(), false},
		{400, hdr("Content-Type", "application/json"), true},
		{403, hdr("Content-Type", "text/html"), true},
		{404, hdr(), true},
		{429, hdr("Content-Type", "application/json"), true},
		{429, hdr("X-Should-Retry", "true"), true}, // a spend limit still overrides true
		{429, hdr("X-Should-Retry", " FALSE"), false},
		{500, hdr(), true},
		{503, hdr("Content-Type", "text/html", "Content-Encoding", "br"), true},
		{529, hdr(), true},
		{503, hdr("Content-Length", "0"), false},
		{500, hdr("Content-Type", "text/event-stream; charset=utf-8"), false},
	} {
		if got := retry.NeedsBody(tt.status, tt.h); got != tt.want {
			t.Errorf("NeedsBody(%d, %v) = %v, want %v", tt.status, tt.h, got, tt.want)
		}
	}
}

func TestClassifyResponseRules(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := retry.Policy{MaxRetries: 3, InitialDelay: time.Second, MaxDelay: 30 * time.Second}
	jsonCT := "application/json"
	html := "text/html; charset=UTF-8"
	spendBody := `{"type":"error","error":{"type":"rate_limit_error","message":"enforced_spend_limit_reached: your organization has reached its spend limit"}}`
	anthropic429 := `{"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization"}}`
	for _, tt := range []struct {
		name   string
		status int
		h      http.Header
		body   string
		want   retry.Verdict
	}{
		// Statuses.
		{"200 never", 200, hdr(), "", retry.Verdict{Reason: "status 200"}},
		{"200 even with x-should-retry true", 200, hdr("X-Should-Retry", "true"), "", retry.Verdict{Reason: "status 200"}},
		{"302 never, even a cloudflare page", 302, hdr("Cf-Mitigated", "challenge"), "error code: 1015", retry.Verdict{Reason: "status 302"}},
		{"408", 408, hdr(), "", retry.Verdict{Retry: true, Reason: "status 408"}},
		{"409", 409, hdr(), "", retry.Verdict{Retry: true, Reason: "status 409"}},
		{"429 json", 429, hdr("Content-Type", jsonCT), anthropic429, retry.Verdict{Retry: true, Reason: "status 429"}},
		{"500", 500, hdr(), "", retry.Verdict{Retry: true, Reason: "status 500"}},
		{"502", 502, hdr(), "", retry.Verdict{Retry: true, Reason: "status 502"}},
		{"503", 503, hdr(), "", retry.Verdict{Retry: true, Reason: "status 503"}},
		{"504", 504, hdr(), "", retry.Verdict{Retry: true, Reason: "status 504"}},
		{"529 overloaded", 529, hdr("Content-Type", jsonCT), `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, retry.Verdict{Retry: true, Reason: "status 529"}},
		{"400 not", 400, hdr("Content-Type", jsonCT), `{"error":{"type":"invalid_request_error"}}`, retry.Verdict{Reason: "status 400"}},
		{"401 not", 401, hdr(), "", retry.Verdict{Reason: "status 401"}},
		{"403 plain not", 403, hdr(), "forbidden", retry.Verdict{Reason: "status 403"}},
		{"404 not", 404, hdr(), "", retry.Verdict{Reason: "status 404"}},
		{"413 not", 413, hdr(), "", retry.Verdict{Reason: "status 413"}},
		{"501 not", 501, hdr(), "", retry.Verdict{Reason: "status 501"}},
		{"520 not", 520, hdr("Server", "cloudflare"), "", retry.Verdict{Reason: "status 520"}},

		// Cloudflare pages at any status.
		{"403 challenge", 403, hdr("Cf-Mitigated", "challenge", "Server", "cloudflare", "Content-Type", html), string(page(t, "cloudflare-challenge.html")),
			retry.Verdict{Retry: true, Reason: "cloudflare challenge", Cloudflare: "challenge"}},
		{"403 1015", 403, hdr("Server", "cloudflare", "Content-Type", html), string(page(t, "cloudflare-1015.html")),
			retry.Verdict{Retry: true, Reason: "cloudflare 1015", Cloudflare: "1015"}},
		{"429 1015 retry-after 0", 429, hdr("Server", "cloudflare", "Retry-After", "0", "Content-Type", "text/plain"), "error code: 1015",
			retry.Verdict{Retry: true, Reason: "cloudflare 1015", Cloudflare: "1015", HasAfter: true, AfterSource: "retry-after"}},
		{"503 1200", 503, hdr("Server", "cloudflare", "Cf-Ray", "x", "Content-Type", html), string(page(t, "cloudflare-1200.html")),
			retry.Verdict{Retry: true, Reason: "cloudflare 1200", Cloudflare: "1200"}},
		{"400 rate-limited html", 400, hdr("Server", "cloudflare", "Content-Type", html), "<h1>This website has been temporarily rate limited</h1>",
			retry.Verdict{Retry: true, Reason: "cloudflare rate-limited", Cloudflare: "rate-limited"}},

		// x-should-retry wins.
		{"x-should-retry true on 400", 400, hdr("X-Should-Retry", "true"), "", retry.Verdict{Retry: true, Reason: "x-should-retry: true"}},
		{"x-should-retry TRUE on 418", 418, hdr("X-Should-Retry", " TRUE "), "", retry.Verdict{Retry: true, Reason: "x-should-retry: true"}},
		{"x-should-retry false on 503", 503, hdr("X-Should-Retry", "false"), "", retry.Verdict{Reason: "x-should-retry: false"}},
		{"x-should-retry false on 529", 529, hdr("X-Should-Retry", "false"), "", retry.Verdict{Reason: "x-should-retry: false"}},
		{"x-should-retry false over cloudflare", 429, hdr("X-Should-Retry", "false", "Server", "cloudflare"), "error code: 1015",
			retry.Verdict{Reason: "x-should-retry: false", Cloudflare: "1015"}},
		{"x-should-retry garbage ignored", 400, hdr("X-Should-Retry", "maybe"), "", retry.Verdict{Reason: "status 400"}},

		// Spend limit.
		{"429 spend limit", 429, hdr("Content-Type", jsonCT, "Retry-After", "5"), spendBody,
			retry.Verdict{Reason: "spend limit", HasAfter: true, After: 5 * time.Second, AfterSource: "retry-after"}},
		{"429 spend limit as error.type", 429, hdr("Content-Type", jsonCT), `{"error":{"type":"enforced_spend_limit_reached","message":"cap"}}`, retry.Verdict{Reason: "spend limit"}},
		{"429 spend limit beats x-should-retry true", 429, hdr("X-Should-Retry", "true"), spendBody, retry.Verdict{Reason: "spend limit"}},
		{"429 spend limit upper case", 429, hdr(), `{"error":{"code":"ENFORCED_SPEND_LIMIT_REACHED"}}`, retry.Verdict{Reason: "spend limit"}},

		// Server waits.
		{"429 retry-after honoured", 429, hdr("Retry-After", "3"), "", retry.Verdict{Retry: true, Reason: "status 429", HasAfter: true, After: 3 * time.Second, AfterSource: "retry-after"}},
		{"429 retry-after exactly the limit", 429, hdr("Retry-After", "60"), "", retry.Verdict{Retry: true, Reason: "status 429", HasAfter: true, After: time.Minute, AfterSource: "retry-after"}},
		{"429 retry-after too long", 429, hdr("Retry-After", "61"), "",
			retry.Verdict{TooLong: true, Reason: "status 429: retry-after 1m1s exceeds 1m0s", HasAfter: true, After: 61 * time.Second, AfterSource: "retry-after"}},
		{"too long beats x-should-retry true", 400, hdr("X-Should-Retry", "true", "Retry-After-Ms", "120000"), "",
			retry.Verdict{TooLong: true, Reason: "x-should-retry: true: retry-after-ms 2m0s exceeds 1m0s", HasAfter: true, After: 2 * time.Minute, AfterSource: "retry-after-ms"}},
		{"too long on a cloudflare page", 429, hdr("Server", "cloudflare", "Retry-After", "3600"), "error code: 1015",
			retry.Verdict{TooLong: true, Reason: "cloudflare 1015: retry-after 1h0m0s exceeds 1m0s", Cloudflare: "1015", HasAfter: true, After: time.Hour, AfterSource: "retry-after"}},
		{"huge retry-after", 503, hdr("Retry-After", "99999999999999999999"), "",
			retry.Verdict{TooLong: true, Reason: "status 503: retry-after 2562047h47m16.854775807s exceeds 1m0s", HasAfter: true, After: 1<<63 - 1, AfterSource: "retry-after"}},
		{"long wait on a 400 is just a 400", 400, hdr("Retry-After", "3600"), "", retry.Verdict{Reason: "status 400", HasAfter: true, After: time.Hour, AfterSource: "retry-after"}},
		{"http-date retry-after", 503, hdr("Retry-After", "Sun, 01 Jun 2025 12:00:30 GMT"), "",
			retry.Verdict{Retry: true, Reason: "status 503", HasAfter: true, After: 30 * time.Second, AfterSource: "retry-after"}},
		{"reset header", 429, hdr("Anthropic-Ratelimit-Requests-Reset", "2025-06-01T12:00:15Z", "Anthropic-Ratelimit-Requests-Remaining", "0"), anthropic429,
			retry.Verdict{Retry: true, Reason: "status 429", HasAfter: true, After: 15 * time.Second, AfterSource: "anthropic-ratelimit-requests-reset"}},
		{"negative retry-after ignored", 429, hdr("Retry-After", "-3"), "", retry.Verdict{Retry: true, Reason: "status 429"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := p.ClassifyResponse(tt.status, tt.h, []byte(tt.body), now)
			if got != tt.want {
				t.Errorf("ClassifyResponse(%d) =\n  %+v\nwant\n  %+v", tt.status, got, tt.want)
			}
		})
	}
}

func TestClassifyResponseMaxRetryAfter(t *testing.T) {
	now := time.Now()
	h := hdr("Retry-After", "10")
	if v := (retry.Policy{MaxRetryAfter: 5 * time.Second}).ClassifyResponse(429, h, nil, now); v.Retry || !v.TooLong {
		t.Errorf("MaxRetryAfter 5s, Retry-After 10: %+v, want TooLong and no retry", v)
	}
	if v := (retry.Policy{MaxRetryAfter: 10 * time.Second}).ClassifyResponse(429, h, nil, now); !v.Retry || v.TooLong {
		t.Errorf("MaxRetryAfter 10s, Retry-After 10: %+v, want a retry", v)
	}
}

// TestClassifyResponseEncodedCloudflarePages runs real gzip and brotli encoded
// Cloudflare pages through ClassifyResponse, whole and cut short.
func TestClassifyResponseEncodedCloudflarePages(t *testing.T) {
	now := time.Now()
	var p retry.Policy
	for _, pg := range []struct {
		file, kind string
		status     int
		h          http.Header
	}{
		{"cloudflare-1015.html", "1015", 429, hdr("Server", "cloudflare", "Content-Type", "text/html")},
		{"cloudflare-1200.html", "1200", 403, hdr("Server", "cloudflare", "Cf-Ray", "x", "Content-Type", "text/html")},
	} {
		plain := page(t, pg.file)
		for _, enc := range []struct {
			name string
			data []byte
		}{
			{"gzip", gzipBytes(t, plain)},
			{"br", brotliBytes(t, plain)},
		} {
			h := pg.h.Clone()
			h.Set("Content-Encoding", enc.name)
			for _, frac := range []float64{1, 0.8, 0.6} {
				body := enc.data[:int(frac*float64(len(enc.data)))]
				v := p.ClassifyResponse(pg.status, h, body, now)
				if !v.Retry || v.Cloudflare != pg.kind || v.Reason != "cloudflare "+pg.kind {
					t.Errorf("%s %s cut to %.0f%% (%d bytes): %+v, want a retry for cloudflare %s", pg.file, enc.name, frac*100, len(body), v, pg.kind)
				}
			}
			// Without decoding, the raw compressed bytes would hide the marker.
			if kind := retry.CloudflareKind(h, enc.data); kind != "" {
				t.Errorf("%s %s: marker found in the compressed bytes (%q): test data is not really compressed", pg.file, enc.name, kind)
			}
		}
	}
}

// TestClassifyResponseLargeCompressedPageCutAtPeek compresses a page too big
// for one peek (incompressible filler after the marker), cuts the compressed
// stream at PeekLimit as the proxy does, and still finds the marker.
func TestClassifyResponseLargeCompressedPageCutAtPeek(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var b strings.Builder
	b.WriteString("<html><head><title>Access denied</title></head><body><h1><span>Error</span> <span>1015</span></h1><h2>You are being rate limited</h2>")
	for b.Len() < 400<<10 {
		fmt.Fprintf(&b, "<!-- %x -->\n", rng.Uint64())
	}
	b.WriteString("</body></html>")
	plain := []byte(b.String())
	h := hdr("Server", "cloudflare", "Content-Type", "text/html")
	for _, enc := range []struct {
		name string
		data []byte
	}{
		{"gzip", gzipBytes(t, plain)},
		{"br", brotliBytes(t, plain)},
	} {
		if len(enc.data) <= retry.PeekLimit {
			t.Fatalf("%s page is %d bytes compressed, want more than PeekLimit", enc.name, len(enc.data))
		}
		h := h.Clone()
		h.Set("Content-Encoding", enc.name)
		v := retry.Policy{}.ClassifyResponse(429, h, enc.data[:retry.PeekLimit], time.Now())
		if !v.Retry || v.Cloudflare != retry.Cloudflare1015 {
			t.Errorf("%s cut at PeekLimit: %+v, want a retry for cloudflare 1015", enc.name, v)
		}
	}
}

// TestClassifyResponseRealUpstream serves Cloudflare-like answers from a
// loopback TLS server and classifies them the way the proxy does: real
// transport, forwarded Accept-Encoding, NeedsBody, a PeekLimit read.
func TestClassifyResponseRealUpstream(t *testing.T) {
	page1015 := page(t, "cloudflare-1015.html")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "cloudflare")
		w.Header().Set("Cf-Ray", "8a1b2c3d4e5f6789-FRA")
		switch r.URL.Path {
		case "/br-1015":
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.Header().Set("Content-Encoding", "br")
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(brotliBytes(t, page1015))
		case "/gzip-1015":
			w.Header().Set("Content-Type", "text/html; charset=UTF-8")
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusForbidden)
			w.Write(gzipBytes(t, page1015))
		case "/empty-503":
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/spend":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"enforced_spend_limit_reached"}}`)
		case "/ok":
			io.WriteString(w, `{"type":"message"}`)
		}
	}))
	defer srv.Close()
	client := srv.Client()
	p := retry.Policy{MaxRetries: 2}
	for _, tt := range []struct {
		path, acceptEncoding string
		wantPeek             bool
		want                 retry.Verdict
	}{
		{"/br-1015", "br", true, retry.Verdict{Retry: true, Reason: "cloudflare 1015", Cloudflare: "1015", HasAfter: true, AfterSource: "retry-after"}},
		{"/gzip-1015", "gzip, deflate, br", true, retry.Verdict{Retry: true, Reason: "cloudflare 1015", Cloudflare: "1015"}},
		{"/gzip-1015", "", true, retry.Verdict{Retry: true, Reason: "cloudflare 1015", Cloudflare: "1015"}}, // the transport decompresses itself
		{"/empty-503", "", false, retry.Verdict{Retry: true, Reason: "status 503"}},
		{"/spend", "", true, retry.Verdict{Reason: "spend limit"}},
		{"/ok", "", false, retry.Verdict{Reason: "status 200"}},
	} {
		t.Run(tt.path+" "+tt.acceptEncoding, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(`{}`))
			if tt.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tt.acceptEncoding) // forwarded from the client
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			needs := retry.NeedsBody(resp.StatusCode, resp.Header)
			if needs != tt.wantPeek {
				t.Errorf("NeedsBody(%d, %v) = %v, want %v", resp.StatusCode, resp.Header, needs, tt.wantPeek)
			}
			var peeked []byte
			if needs {
				peeked, _ = io.ReadAll(io.LimitReader(resp.Body, retry.PeekLimit))
			}
			if got := p.ClassifyResponse(resp.StatusCode, resp.Header, peeked, time.Now()); got != tt.want {
				t.Errorf("ClassifyResponse =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}
