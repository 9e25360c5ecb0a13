package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Error types carried in the JSON body of answers the proxy makes itself.
// They are Anthropic's names; openAIError maps them for OpenAI clients.
const (
	errInvalidRequest = "invalid_request_error"
	errAuthentication = "authentication_error"
	errPermission     = "permission_error"
	errNotFound       = "not_found_error"
	errTooLarge       = "request_too_large"
	errRateLimit      = "rate_limit_error"
	errUpstream       = "api_error"
	errTimeout        = "timeout_error"
	errUnavailable    = "overloaded_error"
)

// anthropicError is the shape of an Anthropic API error answer:
// {"type":"error","error":{"type":"authentication_error","message":"..."}}.
type anthropicError struct {
	Type  string          `json:"type"`
	Error anthropicDetail `json:"error"`
}

type anthropicDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// openAIErrorBody is the shape of an OpenAI API error answer:
// {"error":{"message":"...","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}.
type openAIErrorBody struct {
	Error openAIDetail `json:"error"`
}

type openAIDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// openAIError maps one of clearway's (Anthropic-named) error types to the
// type and code the OpenAI API uses for the same failure, so OpenAI clients
// and IDE plugins read our answers as they read OpenAI's own.
func openAIError(typ string) (oaType, code string) {
	switch typ {
	case errAuthentication:
		return "invalid_request_error", "invalid_api_key"
	case errPermission:
		return "invalid_request_error", "forbidden"
	case errNotFound:
		return "invalid_request_error", "not_found"
	case errTooLarge:
		return "invalid_request_error", "request_too_large"
	case errRateLimit:
		return "requests", "rate_limit_exceeded"
	case errUpstream:
		return "server_error", "upstream_error"
	case errTimeout:
		return "server_error", "timeout"
	case errUnavailable:
		return "server_error", "service_unavailable"
	default:
		return "invalid_request_error", "invalid_request"
	}
}

// errorJSON renders clearway's error in the API format f. message is
// prefixed with "clearway: " so the user can tell the proxy's answers from
// the upstream's.
func errorJSON(f apiFormat, typ, message string) []byte {
	message = "clearway: " + message
	var v any
	if f == formatOpenAI {
		oaType, code := openAIError(typ)
		v = openAIErrorBody{Error: openAIDetail{Message: message, Type: oaType, Code: code}}
	} else {
		v = anthropicError{Type: "error", Error: anthropicDetail{Type: typ, Message: message}}
	}
	b, _ := json.Marshal(v)
	return append(b, '\n')
}

// writeError answers r with clearway's own JSON error, in the format of the
// API the client speaks (see formatOf), marked `x-should-retry: false`: an
// answer clearway makes itself is final, a retry by the client cannot fix it
// (clearway is the one retry authority between the client and the upstream).
func writeError(w http.ResponseWriter, r *http.Request, status int, typ, message string) {
	writeErrorRetry(w, r, status, typ, message, "false")
}

// writeErrorRetry is writeError with the x-should-retry value to send
// ("" sends none and leaves the decision to the client's own rules).
func writeErrorRetry(w http.ResponseWriter, r *http.Request, status int, typ, message, shouldRetry string) {
	b := errorJSON(formatFor(w, r), typ, message)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("X-Clearway-Error", typ)
	h.Set("Cache-Control", "no-store")
	if shouldRetry != "" {
		h.Set("X-Should-Retry", shouldRetry)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeThrottled answers a request the local throttle refused. It carries
// Retry-After and no x-should-retry: waiting for a turn is exactly what
// helps, and the clients' own retry rules honour Retry-After.
func writeThrottled(w http.ResponseWriter, r *http.Request, upstream string, after time.Duration) {
	secs := int((after + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeErrorRetry(w, r, http.StatusTooManyRequests, errRateLimit,
		"local throttle for upstream "+strconv.Quote(upstream)+" is full (throttle settings in the config); try again in "+strconv.Itoa(secs)+"s", "")
}

// tokenMessage tells a client without the right client token what to do, in
// the words of its own API's setup. It never contains the literal header name
// "x-api-key": Claude Code replaces any error text holding it with its own
// "Invalid API key" line, and the user would never read the fix.
func tokenMessage(w http.ResponseWriter, r *http.Request) string {
	what := "wrong client token"
	if clientToken(r.Header) == "" {
		what = "no client token"
	}
	fix := "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to the output of `clearway token`"
	if formatFor(w, r) == formatOpenAI {
		fix = "set OPENAI_API_KEY (or your tool's API key setting) to the output of `clearway token`"
	}
	return what + ": " + fix
}

// statusClientClosed is logged when the client went away before the answer (nginx's 499).
const statusClientClosed = 499

// retryAfterSecs is d in whole seconds, rounded up, at least 1.
func retryAfterSecs(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// writeKeysCooling answers a request none of whose upstream's keys may be
// used before after (they are rate limited or exhausted until their reset).
func writeKeysCooling(w http.ResponseWriter, r *http.Request, upstream string, after time.Duration) {
	secs := retryAfterSecs(after)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeErrorRetry(w, r, http.StatusTooManyRequests, errRateLimit,
		"every key of upstream "+strconv.Quote(upstream)+" is rate limited until its reset; try again in "+strconv.Itoa(secs)+"s", "")
}
