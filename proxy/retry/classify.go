package retry

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// PeekLimit is how many body bytes the proxy reads from an upstream answer
// before calling ClassifyResponse (64 KiB). Markers beyond it are not seen.
const PeekLimit = 64 << 10

// Verdict is the classification of one upstream answer or transport error.
// The zero value means "do not retry, no reason known". It is a plain value.
type Verdict struct {
	Retry      bool          // worth another attempt
	Reason     string        // short, log-friendly, secret-free: "status 429", "cloudflare 1015", "x-should-retry: false", "spend limit", "connection refused", ...
	Cloudflare string        // the Cloudflare marker found: "", "1015", "1200", "challenge", "rate-limited"
	After      time.Duration // server-requested wait from the headers (0: none)
	HasAfter   bool          // a retry-after-ms / Retry-After / reset header gave a usable wait
	TooLong    bool          // the server asked for more than MaxRetryAfter: do not retry, pass the response through at once

	AfterSource string // the header After came from ("retry-after-ms", "retry-after", "x-ratelimit-reset-tokens", ...); "" when !HasAfter
	Timeout     bool   // ClassifyError: the upstream did not answer in time (a final failure maps to 504)
	Canceled    bool   // ClassifyError: the client went away (context.Canceled; a 499-style end, never retried)
}

// retryableStatus lists the statuses retried without further evidence, as the
// official SDKs do (529 is Anthropic's overloaded_error). Other 5xx (501, 505,
// Cloudflare's 52x) are passed through: retrying them rarely helps and may
// repeat a request the origin already ran.
var retryableStatus = map[int]bool{
	http.StatusRequestTimeout:      true, // 408
	http.StatusConflict:            true, // 409
	http.StatusTooManyRequests:     true, // 429
	http.StatusInternalServerError: true, // 500
	http.StatusBadGateway:          true, // 502
	http.StatusServiceUnavailable:  true, // 503
	http.StatusGatewayTimeout:      true, // 504
	529:                            true, // Anthropic overloaded
}

// spendLimitMarker is the error type Anthropic returns when an organisation's
// spend cap is reached: retrying cannot help.
var spendLimitMarker = []byte("enforced_spend_limit_reached")

// NeedsBody reports whether ClassifyResponse needs the response's body (up to
// PeekLimit bytes) to classify it. It is false for informational, 2xx and 3xx
// answers (never retried), for an upstream that already said
// "x-should-retry: false", for an empty body (Content-Length: 0) and for an
// event stream (reading it could block on a live stream); true for every other
// status >= 400, since a Cloudflare page or a spend-limit error can hide behind
// any of them. NeedsBody is safe for concurrent use.
func NeedsBody(status int, h http.Header) bool {
	if status < 400 {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Should-Retry")), "false") {
		return false
	}
	if strings.TrimSpace(h.Get("Content-Length")) == "0" {
		return false
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	return !strings.HasPrefix(strings.TrimSpace(ct), "text/event-stream")
}

// ClassifyResponse decides whether an upstream answer is worth another
// attempt. body holds up to PeekLimit raw bytes, still encoded as
// Content-Encoding says (DecodeBody undoes it); now is the time the answer
// arrived, for HTTP-date and RFC 3339 waits. The rules, first match wins:
//
//  1. status < 400: never retried ("status 200").
//  2. A body mentioning enforced_spend_limit_reached (Anthropic's spend cap):
//     never retried, whatever x-should-retry says ("spend limit").
//  3. x-should-retry: true or false from the upstream decides
//     ("x-should-retry: true" retries even a 400).
//  4. A Cloudflare marker (see CloudflareKind), at any status: retried
//     ("cloudflare 1015", "cloudflare 1200", "cloudflare challenge",
//     "cloudflare rate-limited").
//  5. 408, 409, 429, 500, 502, 503, 504, 529: retried ("status 503").
//  6. Anything else, including every other 4xx: not retried ("status 404").
//
// The server's wait (ParseServerWait) is recorded in After/HasAfter whatever
// the decision. When the answer would be retried but the wait is longer than
// MaxRetryAfter, the verdict is TooLong with Retry false: the client gets the
// answer at once and decides itself. The Cloudflare field is set whenever a
// marker is found. ClassifyResponse is safe for concurrent use.
func (p Policy) ClassifyResponse(status int, h http.Header, body []byte, now time.Time) Verdict {
	if status < 400 {
		return Verdict{Reason: statusReason(status)}
	}
	return p.ClassifyAnswer(status, h, DecodeBody(h.Get("Content-Encoding"), body), ReadRates(h, now), now)
}

// ClassifyAnswer is ClassifyResponse for a caller that already decoded the
// body (DecodeBody) and read the rate-limit headers (ReadRates of the same
// h), so that one answer is decoded and read once whoever asks about it.
// Safe for concurrent use.
func (p Policy) ClassifyAnswer(status int, h http.Header, decoded []byte, rates Rates, now time.Time) Verdict {
	v := Verdict{Reason: statusReason(status)}
	if status < 400 {
		return v
	}
	if d, src, ok := serverWait(h, rates, now); ok {
		v.After, v.AfterSource, v.HasAfter = d, src, true
	}
	v.Cloudflare = CloudflareKind(h, decoded)

	switch shouldRetry := strings.ToLower(strings.TrimSpace(h.Get("X-Should-Retry"))); {
	case bytes.Contains(bytes.ToLower(decoded), spendLimitMarker):
		v.Reason = "spend limit"
		return v
	case shouldRetry == "true" || shouldRetry == "false":
		v.Retry = shouldRetry == "true"
		v.Reason = "x-should-retry: " + shouldRetry
	case v.Cloudflare != "":
		v.Retry = true
		v.Reason = "cloudflare " + v.Cloudflare
	case retryableStatus[status]:
		v.Retry = true
	}
	if v.Retry && v.HasAfter && v.After > p.maxRetryAfter() {
		v.Retry, v.TooLong = false, true
		v.Reason = fmt.Sprintf("%s: %s %s exceeds %s", v.Reason, v.AfterSource, v.After, p.maxRetryAfter())
	}
	return v
}

// statusReason is "status N"; the answer nearly every request gets is a
// constant, not a string built per request.
func statusReason(status int) string {
	if status == http.StatusOK {
		return "status 200"
	}
	return "status " + strconv.Itoa(status)
}
