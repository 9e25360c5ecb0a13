package retry

import (
	"bytes"
	"net/http"
)

// StealthDeny reports whether an answer is Cloudflare's silent refusal of a
// stale bot-management cookie: a 403 or 404 from a Cloudflare edge (a
// Server: cloudflare or a cf-ray header) whose decoded body is empty or not
// JSON, and that is not one of the pages CloudflareKind recognises (a
// challenge or a rate-limit page). __cf_bm is bound to the client's IP,
// User-Agent and TLS fingerprint; replayed after the network changed it gets
// exactly this answer (icebear0828/codex-proxy PR#583). The caller acts on it
// only when it sent a __cf_bm: it drops the short-lived Cloudflare cookies
// and retries once. StealthDeny is safe for concurrent use.
func StealthDeny(status int, h http.Header, decodedBody []byte) bool {
	if status != http.StatusForbidden && status != http.StatusNotFound {
		return false
	}
	if !servedByCloudflare(h) || CloudflareKind(h, decodedBody) != "" {
		return false
	}
	return len(bytes.TrimSpace(decodedBody)) == 0 || !looksJSON(h, decodedBody)
}
