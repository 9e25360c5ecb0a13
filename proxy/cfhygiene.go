package proxy

import (
	"net/http"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/cookiejar"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/retry"
)

// staleCloudflareAge is how old a short-lived Cloudflare cookie may be when
// the proxy starts: __cf_bm lives 30 minutes and is bound to the network and
// TLS fingerprint of the process that earned it.
const staleCloudflareAge = 30 * time.Minute

// dropStaleCloudflare removes, at start, every upstream's short-lived
// Cloudflare cookies (cookiejar.ShortLivedCloudflare) older than
// staleCloudflareAge, keeping cf_clearance. The log names the cookies, never
// their values.
func (s *Server) dropStaleCloudflare(now time.Time) {
	for _, name := range s.names {
		sess := s.sessions[name]
		if dropped := sess.jar.DropStaleCloudflare(now.Add(-staleCloudflareAge)); len(dropped) > 0 {
			s.log.Info("dropped short-lived Cloudflare cookies older than 30 minutes at start; cf_clearance is kept",
				"upstream", name, "cookies", strings.Join(dropped, ","))
			s.bus.Publish(events.Event{Kind: events.CookiesDropped, Upstream: name, Reason: "older than 30m at start: " + strings.Join(dropped, ",")})
		}
	}
}

// stealthDenied reports whether resp is Cloudflare's silent refusal of the
// __cf_bm the attempt carried (see retry.StealthDeny). When it is, the
// session's short-lived Cloudflare cookies are dropped (cf_clearance kept)
// so the caller can retry once. decoded is the decoded start of the body
// (retry.DecodeBody).
func (s *Server) stealthDenied(sess *session, resp *http.Response, decoded []byte) bool {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		return false
	}
	if resp.Request == nil || !sentCookie(resp.Request.Header, cookiejar.CloudflareBotCookie) {
		return false
	}
	if !retry.StealthDeny(resp.StatusCode, resp.Header, decoded) {
		return false
	}
	dropped := sess.jar.DropShortLivedCloudflare()
	s.log.Warn("Cloudflare refused the session's __cf_bm without a word (stealth deny); dropped the short-lived Cloudflare cookies, kept cf_clearance, retrying once",
		"upstream", sess.up.Name, "status", resp.StatusCode, "cookies", strings.Join(dropped, ","))
	s.bus.Publish(events.Event{Kind: events.CookiesDropped, Upstream: sess.up.Name, Status: resp.StatusCode, Reason: "stealth deny: " + strings.Join(dropped, ",")})
	return true
}

// sentCookie reports whether a request's Cookie header carries a cookie
// called name.
func sentCookie(h http.Header, name string) bool {
	for _, line := range h.Values("Cookie") {
		for part := range strings.SplitSeq(line, ";") {
			n, _, _ := strings.Cut(strings.TrimSpace(part), "=")
			if n == name {
				return true
			}
		}
	}
	return false
}
