package retry

import (
	"bytes"
	"net/http"
)

// KeyProblem says what an upstream answer means for the API key the request
// was sent with. The zero value, KeyOK, means nothing is wrong with the key.
type KeyProblem int

// The problems ClassifyKey reports.
const (
	KeyOK          KeyProblem = iota // the key is fine (or the answer says nothing about it)
	KeyRateLimited                   // 429/529 from the API: the key cools down until its reset
	KeyInvalid                       // 401, or 403 with an authentication error: the key was refused
	KeyNoCredit                      // spend cap, exhausted quota or billing error: no retry can help until the user acts
)

// String returns the problem's name for logs: "ok", "rate limited",
// "invalid", "out of credit".
func (k KeyProblem) String() string {
	switch k {
	case KeyRateLimited:
		return "rate limited"
	case KeyInvalid:
		return "invalid"
	case KeyNoCredit:
		return "out of credit"
	default:
		return "ok"
	}
}

// creditMarkers are the error types and messages by which Anthropic and
// OpenAI say an account cannot pay for more requests. Compared in lower case.
var creditMarkers = [][]byte{
	spendLimitMarker,                    // Anthropic: organisation spend cap
	[]byte("credit balance is too low"), // Anthropic: prepaid credits used up
	[]byte("billing_error"),             // Anthropic's billing error type
	[]byte("insufficient_quota"),        // OpenAI: quota or billing exhausted (sent with 429)
}

// authMarkers are the error types by which an API says the key itself was
// refused. Compared in lower case.
var authMarkers = [][]byte{
	[]byte("authentication_error"), // Anthropic
	[]byte("invalid_api_key"),      // OpenAI
	[]byte("invalid x-api-key"),    // Anthropic's message
	[]byte("incorrect api key"),    // OpenAI's message
}

// ClassifyKey tells what an upstream answer says about the key it was sent
// with, given the status, headers and the DECODED start of the body (see
// DecodeBody). why is a short, secret-free reason for logs and status
// ("401", "403 authentication_error", "enforced_spend_limit_reached",
// "429"). Rules, first match wins:
//
//  1. status < 400: KeyOK.
//  2. A Cloudflare page or challenge (CloudflareKind), or a non-JSON answer
//     from a Cloudflare edge: KeyOK, since Cloudflare judges the client, not
//     the key.
//  3. A credit marker in the body (enforced_spend_limit_reached, "credit
//     balance is too low", billing_error, insufficient_quota) or status 402:
//     KeyNoCredit.
//  4. 401, or 403 with an authentication marker: KeyInvalid.
//  5. 429 or 529: KeyRateLimited.
//  6. Anything else: KeyOK.
//
// ClassifyKey is safe for concurrent use.
func ClassifyKey(status int, h http.Header, decodedBody []byte) (problem KeyProblem, why string) {
	if status < 400 {
		return KeyOK, ""
	}
	if CloudflareKind(h, decodedBody) != "" || servedByCloudflare(h) && !looksJSON(h, decodedBody) {
		return KeyOK, ""
	}
	lower := bytes.ToLower(decodedBody)
	for _, m := range creditMarkers {
		if bytes.Contains(lower, m) {
			return KeyNoCredit, string(m)
		}
	}
	if status == http.StatusPaymentRequired {
		return KeyNoCredit, "402"
	}
	if status == http.StatusUnauthorized {
		return KeyInvalid, "401"
	}
	if status == http.StatusForbidden {
		for _, m := range authMarkers {
			if bytes.Contains(lower, m) {
				return KeyInvalid, "403 " + string(m)
			}
		}
		return KeyOK, ""
	}
	if status == http.StatusTooManyRequests || status == 529 {
		return KeyRateLimited, statusText(status)
	}
	return KeyOK, ""
}

func statusText(status int) string {
	if status == 529 {
		return "529"
	}
	return "429"
}
