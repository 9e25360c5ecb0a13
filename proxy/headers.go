package proxy

import (
	"net/http"
	"strings"
)

// hopHeaders are connection-level headers a proxy must not forward (RFC 9110 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// outboundHeader copies the client's request headers for the upstream, minus
// hop-by-hop headers, the client's cookies (the session's jar is the only
// source of cookies: a browser's localhost cookies must not leak upstream) and
// forwarding headers that would reveal local details.
func outboundHeader(in http.Header) http.Header {
	out := make(http.Header, len(in)+4)
	for k, vv := range in {
		out[k] = vv
	}
	removeConnectionHeaders(out)
	for _, h := range hopHeaders {
		delete(out, h)
	}
	// Expect: the body is already buffered, so there is nothing to wait for.
	// X-Clearway-Client names the client to clearway's ledger only.
	for _, h := range []string{"Expect", "X-Clearway-Client", "Cookie", "Host", "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Origin", "Referer"} {
		delete(out, h)
	}
	if te := in.Get("Te"); strings.Contains(strings.ToLower(te), "trailers") {
		out.Set("Te", "trailers") // gRPC-style trailers survive, as in httputil
	}
	return out
}

// copyResponseHeader copies an upstream answer's headers to the client, minus
// hop-by-hop headers and Set-Cookie: the session, not the client, owns the
// upstream's cookies (and their values must not reach IDE logs).
func copyResponseHeader(dst, src http.Header) {
	for k, vv := range src {
		dst[k] = vv
	}
	removeConnectionHeaders(dst)
	for _, h := range hopHeaders {
		delete(dst, h)
	}
	delete(dst, "Set-Cookie")
}

// removeConnectionHeaders removes the headers named in Connection.
func removeConnectionHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
}
