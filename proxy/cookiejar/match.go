package cookiejar

import "strings"

// MatchesHost reports whether rec would be sent to host (a host name or IP,
// optionally with a port) by domain-matching as RFC 6265 sections 5.1.3 and
// 5.3 define it: a host-only cookie matches its own host; a domain cookie also
// matches every subdomain, but never an IP address, and a Domain that is a
// public suffix ("com", "co.uk") matches only itself. Case, a port and a
// trailing dot on host, and a leading dot on rec.Domain, do not matter.
//
// The CLI's import uses it to decide which upstreams a cookie belongs to.
func MatchesHost(rec Record, host string) bool {
	h, err := canonicalHost(host)
	if err != nil || h == "" {
		return false
	}
	d, ok := asciiToLower(strings.TrimPrefix(rec.Domain, "."))
	if !ok || d == "" {
		return false
	}
	if h == d {
		return true
	}
	if rec.HostOnly || isIP(h) || isIP(d) {
		return false
	}
	if ps := psl.PublicSuffix(d); ps != "" && !hasDotSuffix(d, ps) {
		return false // a public suffix cannot hold cookies for its subdomains
	}
	return hasDotSuffix(h, d)
}
