package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Error types carried in the JSON body of answers the proxy makes itself.
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

// errorBody is the shape the Anthropic API uses, so SDKs show our message.
type errorBody struct {
	Type  string      `json:"type"`
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// writeError answers with clearway's own JSON error. message is prefixed with
// "clearway: " so the user can tell the proxy's answers from the upstream's.
func writeError(w http.ResponseWriter, status int, typ, message string) {
	b, _ := json.Marshal(errorBody{Type: "error", Error: errorDetail{Type: typ, Message: "clearway: " + message}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("X-Clearway-Error", typ)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeThrottled answers a request the local throttle refused.
func writeThrottled(w http.ResponseWriter, upstream string, after time.Duration) {
	secs := int((after + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, errRateLimit,
		"local throttle for upstream "+strconv.Quote(upstream)+" is full (throttle settings in the config); try again in "+strconv.Itoa(secs)+"s")
}

// statusClientClosed is logged when the client went away before the answer (nginx's 499).
const statusClientClosed = 499
