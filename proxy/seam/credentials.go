package seam

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

// Credentials gives the credential for each attempt the proxy makes to an
// upstream and learns how the upstream answered it. The proxy calls
// Credential before the first attempt (before it reads the request body) and
// again before every retry, so a pool may hand a retry a different key.
// Implementations must be safe for concurrent use.
type Credentials interface {
	// Credential returns what to send on one attempt. A *KeyError means the
	// request cannot go: the proxy answers 401 (key not set) or 503 (the key
	// store failed) naming the key, and publishes KeyMissing/KeychainError.
	// A *Refused (every key cooling down for longer than the request may
	// wait) is answered with 429 and its Retry-After; an error matching
	// ErrKeysRefused (every key was refused by the upstream) with 401.
	// Other errors are answered with 503. When a fallback upstream follows,
	// any error sends the request there instead.
	Credential(ctx context.Context, req KeyRequest) (Credential, error)

	// Report tells how the upstream answered an attempt made with c. It
	// returns switchKey=true when the implementation has another credential
	// for this upstream and wants the request retried with it at once even
	// where the retry policy would not retry (a 401/403/429 of one key of a
	// pool); the retry loop still stops at max_retries. It must not keep or
	// change o.Header.
	Report(c Credential, o Outcome) (switchKey bool)
}

// KeyRequest describes the attempt a credential is wanted for.
type KeyRequest struct {
	Upstream string // as named in the config
	Attempt  int    // 1 for the first attempt, 2 for the first retry, ...
	// ClientKey is true when the client sent its own API key (x-api-key or
	// Authorization) and client_token is off: then a missing key may be no
	// error, the client's own key goes through.
	ClientKey bool
	// NoWait is true when the request has somewhere else to go (a fallback
	// upstream follows): an implementation that would wait for a cooling
	// key returns a *Refused at once instead.
	NoWait bool
}

// Credential is what one attempt sends to authenticate. Its String and
// LogValue show the key name only, never a value.
type Credential struct {
	Upstream string // the upstream it is for
	Name     string // the key name in the key store, "" when no key is sent (safe to log)
	// Header holds the headers to set on the attempt (each replaces the
	// client's header of that name): the auth header with the key and the
	// upstream's configured extra headers with their templates expanded.
	// The values are secret: never log them. Nil when there is nothing to set.
	Header http.Header
}

// String names the credential without its value.
func (c Credential) String() string {
	return "credential " + strconv.Quote(c.Name) + " for " + strconv.Quote(c.Upstream)
}

// LogValue names the credential without its value.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("upstream", c.Upstream), slog.String("key", c.Name))
}

// Outcome is how the upstream answered one attempt, with the retry policy's
// verdict on it.
type Outcome struct {
	Status int         // the HTTP status; 0 when the attempt got no answer (Err is set)
	Header http.Header // the answer's headers (read-only; nil when Status is 0)
	Err    error       // the transport error when Status is 0
	Retry  bool        // the retry policy would try again
	After  time.Duration
	// HasAfter is true when the upstream asked for a wait (Retry-After,
	// retry-after-ms or a rate-limit reset header); After is that wait.
	HasAfter bool
	Reason   string // the policy's short, secret-free reason ("status 429", "cloudflare 1015", ...)
	// Body is the DECODED start of an error answer's body (status >= 400,
	// up to retry.PeekLimit bytes; nil otherwise or when it was not read),
	// so a key's refusal (authentication_error, a spend limit) can be told
	// from other errors. Read-only; it must not be kept.
	Body []byte
	// Key and KeyWhy are what the answer says about the key (retry.ClassifyKey
	// of Status, Header and Body), classified once by the proxy for Status
	// >= 400; KeyOK and "" otherwise.
	Key    retry.KeyProblem
	KeyWhy string
	// Rates are the answer's rate-limit headers as the proxy read them once
	// (retry.ReadRates of Header); zero when Status is 0.
	Rates retry.Rates
}

// KeyError says the key a request needs is not available.
type KeyError struct {
	Upstream string // the upstream the request was for
	Key      string // the key name (never its value)
	// Err is the key store's error when it could not say (locked, no
	// Secret Service); nil when the key is simply not set.
	Err error
}

// Error names the key and the upstream.
func (e *KeyError) Error() string {
	if e.Err != nil {
		return "key " + strconv.Quote(e.Key) + " for upstream " + strconv.Quote(e.Upstream) + ": " + e.Err.Error()
	}
	return "key " + strconv.Quote(e.Key) + " for upstream " + strconv.Quote(e.Upstream) + " is not set"
}

// Unwrap returns the key store's error.
func (e *KeyError) Unwrap() error { return e.Err }

// ErrNoCredential may be wrapped by implementations that have no usable
// credential left for other reasons than a missing key (every key of a pool
// cooling down); the proxy answers it with 503.
var ErrNoCredential = errors.New("no usable credential")

// ErrKeysRefused is wrapped by implementations whose every key was refused
// by the upstream (invalid, out of credit); the proxy answers it with 401.
var ErrKeysRefused = errors.New("every key was refused by the upstream")

// NoCredentials sends no credential: the client's own headers go through as
// they are. Its zero value is ready to use; safe for concurrent use.
type NoCredentials struct{}

// Credential returns an empty credential for req.Upstream.
func (NoCredentials) Credential(_ context.Context, req KeyRequest) (Credential, error) {
	return Credential{Upstream: req.Upstream}, nil
}

// Report ignores the outcome and never asks for another key.
func (NoCredentials) Report(Credential, Outcome) bool { return false }
