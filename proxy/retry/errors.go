package retry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// ClassifyError decides whether a transport error from RoundTrip (or from an
// http.Client) is worth another attempt. It retries only failures where the
// upstream cannot have produced an answer for the request:
//
//   - dial errors: "connection refused", "no route to host",
//     "network unreachable", "dial timeout", "dns temporary failure";
//   - "tls handshake timeout";
//   - "connection reset", "broken pipe", "connection closed" and "eof before
//     response" (the upstream hung up before any response header);
//   - HTTP/2 "http2 goaway" and "http2 refused stream";
//   - timeouts, including http.Transport.ResponseHeaderTimeout and a per-attempt
//     context deadline ("timeout"; Verdict.Timeout is set: a final failure
//     maps to 504). A caller whose own overall deadline passed should stop on
//     its context, not on this verdict.
//
// context.Canceled means the client went away: never retried, Canceled set
// ("client canceled"). Everything else, such as certificate errors, a DNS name
// that does not exist or a malformed response, is not retried. The Reason is a
// fixed category, never the error text (which may carry a URL with a key in
// its query). ClassifyError is safe for concurrent use.
func (p Policy) ClassifyError(err error) Verdict {
	if err == nil {
		return Verdict{Reason: "no error"}
	}
	if errors.Is(err, context.Canceled) {
		return Verdict{Reason: "client canceled", Canceled: true}
	}
	retry := func(reason string) Verdict { return Verdict{Retry: true, Reason: reason} }

	// Certificates and TLS alerts will fail again the same way.
	var (
		certInvalid   x509.CertificateInvalidError
		unknownAuth   x509.UnknownAuthorityError
		hostnameErr   x509.HostnameError
		certVerifyErr *tls.CertificateVerificationError
		alertErr      tls.AlertError
		recordErr     tls.RecordHeaderError
	)
	if errors.As(err, &certInvalid) || errors.As(err, &unknownAuth) || errors.As(err, &hostnameErr) ||
		errors.As(err, &certVerifyErr) || errors.As(err, &alertErr) || errors.As(err, &recordErr) {
		return Verdict{Reason: "tls error"}
	}

	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTemporary || dnsErr.IsTimeout {
			v := retry("dns temporary failure")
			v.Timeout = dnsErr.IsTimeout // a final failure maps to 504, as for any timeout
			return v
		}
		if dnsErr.IsNotFound {
			return Verdict{Reason: "dns: no such host"}
		}
		return Verdict{Reason: "dns error"}
	}

	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return retry("connection refused")
	case errors.Is(err, syscall.EHOSTUNREACH):
		return retry("no route to host")
	case errors.Is(err, syscall.ENETUNREACH):
		return retry("network unreachable")
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED):
		return retry("connection reset")
	case errors.Is(err, syscall.EPIPE):
		return retry("broken pipe")
	}

	// net/http's bundled HTTP/2 client keeps its GOAWAY and stream errors
	// unexported and, when it cannot replay a body itself, wraps them with %v
	// ("http2: Transport: cannot retry err [...] after Request.Body was
	// written"): only the text is left to go by. golang.org/x/net/http2's
	// exported GoAwayError and StreamError read the same.
	if msg := err.Error(); strings.Contains(msg, "REFUSED_STREAM") {
		return retry("http2 refused stream")
	} else if strings.Contains(msg, "GOAWAY") {
		return retry("http2 goaway")
	}

	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		v := retry("timeout")
		var opErr *net.OpError
		switch {
		case errors.As(err, &opErr) && opErr.Op == "dial":
			v.Reason = "dial timeout"
		case strings.Contains(err.Error(), "TLS handshake timeout"):
			v.Reason = "tls handshake timeout"
		}
		v.Timeout = true
		return v
	}

	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		// Not "proxyconnect": an HTTPS proxy that refused the CONNECT (407,
		// 403) will refuse it again; its connection errors are caught above.
		return retry("dial error")
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// RoundTrip returned no response, so no header arrived.
		return retry("eof before response")
	}
	if strings.Contains(err.Error(), "server closed idle connection") {
		// net/http's unexported errServerClosedIdle: the upstream closed the
		// connection before reading the request.
		return retry("connection closed")
	}
	if errors.Is(err, net.ErrClosed) {
		// The transport saw the upstream hang up and closed the connection
		// while still writing the request ("write tcp ...: use of closed
		// network connection").
		return retry("connection closed")
	}
	return Verdict{Reason: "transport error"}
}
