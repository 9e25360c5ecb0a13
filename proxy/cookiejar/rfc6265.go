package cookiejar

// This file mirrors how net/http/cookiejar (Go 1.26, BSD licence, Copyright
// 2012 The Go Authors) turns a Set-Cookie into a stored entry: host
// canonicalisation, default path, domain and host-only resolution, expiry from
// Max-Age or Expires, deletion. Jar records what this mirror computes while the
// standard jar stores the same cookie, so a later replay of the records rebuilds
// a standard jar that matches exactly like the original. The differential tests
// in jar_test.go compare both for many cookies and URLs; keep the two in step
// when Go's jar changes.

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/publicsuffix"
)

var (
	errIllegalDomain   = errors.New("cookiejar: illegal cookie domain attribute")
	errMalformedDomain = errors.New("cookiejar: malformed cookie domain attribute")
)

// psl is the public suffix list both the standard jar and the mirror use.
var psl = publicsuffix.List

// newRecord is net/http/cookiejar's newEntry: it resolves cookie c, received
// from the canonical host with default path defPath at time now, into the
// record the standard jar stores. remove reports that c deletes (MaxAge < 0 or
// Expires not after now) the cookie with rec's domain, path and name. A
// malformed or illegal Domain attribute gives an error, and the standard jar
// ignores such a cookie too. Created is left zero for the caller.
func newRecord(c *http.Cookie, now time.Time, defPath, host string) (rec Record, remove bool, err error) {
	rec.Name = c.Name
	if c.Path == "" || c.Path[0] != '/' {
		rec.Path = defPath
	} else {
		rec.Path = c.Path
	}
	rec.Domain, rec.HostOnly, err = domainAndType(host, c.Domain)
	if err != nil {
		return rec, false, err
	}
	// MaxAge takes precedence over Expires.
	switch {
	case c.MaxAge < 0:
		return rec, true, nil
	case c.MaxAge > 0:
		rec.Expires = now.Add(time.Duration(c.MaxAge) * time.Second)
	case c.Expires.IsZero():
		// Session cookie: Expires stays zero.
	default:
		if !c.Expires.After(now) {
			return rec, true, nil
		}
		rec.Expires = c.Expires
	}
	rec.Expires = normalTime(rec.Expires)
	rec.Value = c.Value
	rec.Quoted = c.Quoted
	rec.Secure = c.Secure
	rec.HttpOnly = c.HttpOnly
	rec.SameSite = sameSiteName(c.SameSite)
	return rec, false, nil
}

// canonicalHost strips the port and a trailing dot from host, converts it to
// ASCII (Punycode) and lowercases it, as the standard jar does.
func canonicalHost(host string) (string, error) {
	var err error
	if hasPort(host) {
		host, _, err = net.SplitHostPort(host)
		if err != nil {
			return "", err
		}
	}
	host = strings.TrimSuffix(host, ".")
	encoded, err := toASCII(host)
	if err != nil {
		return "", err
	}
	lower, _ := asciiToLower(encoded)
	return lower, nil
}

// hasPort reports whether host (a name, IPv4 or IPv6 address) has a port.
func hasPort(host string) bool {
	colons := strings.Count(host, ":")
	if colons == 0 {
		return false
	}
	if colons == 1 {
		return true
	}
	return host[0] == '[' && strings.Contains(host, "]:")
}

// isIP reports whether host is an IP address (anything with ':' or '%' counts,
// as in the standard jar).
func isIP(host string) bool {
	if strings.ContainsAny(host, ":%") {
		return true
	}
	return net.ParseIP(host) != nil
}

// hasDotSuffix reports whether s ends in "."+suffix.
func hasDotSuffix(s, suffix string) bool {
	return len(s) > len(suffix) && s[len(s)-len(suffix)-1] == '.' && s[len(s)-len(suffix):] == suffix
}

// defaultPath returns the directory part of a URL path (RFC 6265 5.1.4).
func defaultPath(path string) string {
	if len(path) == 0 || path[0] != '/' {
		return "/"
	}
	i := strings.LastIndex(path, "/")
	if i == 0 {
		return "/"
	}
	return path[:i]
}

// domainAndType determines a cookie's domain and host-only flag from the
// canonical request host and the Domain attribute (RFC 6265 5.2.3 and 5.3).
func domainAndType(host, domain string) (string, bool, error) {
	if domain == "" {
		return host, true, nil
	}
	if isIP(host) {
		// A Domain attribute on an IP host must name that IP and makes a
		// host-only cookie.
		if host != domain {
			return "", false, errIllegalDomain
		}
		return host, true, nil
	}
	domain = strings.TrimPrefix(domain, ".")
	if len(domain) == 0 || domain[0] == '.' {
		return "", false, errMalformedDomain
	}
	domain, isASCII := asciiToLower(domain)
	if !isASCII {
		return "", false, errMalformedDomain
	}
	if domain[len(domain)-1] == '.' {
		return "", false, errMalformedDomain
	}
	if ps := psl.PublicSuffix(domain); ps != "" && !hasDotSuffix(domain, ps) {
		if host == domain {
			// The one case where a Domain attribute gives a host cookie.
			return host, true, nil
		}
		return "", false, errIllegalDomain
	}
	if host != domain && !hasDotSuffix(host, domain) {
		return "", false, errIllegalDomain
	}
	return domain, false, nil
}

// asciiIs reports whether s is all ASCII.
func asciiIs(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// asciiToLower lowercases s when it is printable ASCII; otherwise it returns
// "", false (net/http/internal/ascii.ToLower).
func asciiToLower(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// sameSiteName maps http.SameSite to Record.SameSite. The standard jar keeps
// SameSite but never uses it for matching.
func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return SameSiteLax
	case http.SameSiteStrictMode:
		return SameSiteStrict
	case http.SameSiteNoneMode:
		return SameSiteNone
	}
	return ""
}

// sameSiteMode is the inverse of sameSiteName ("" and unknown names give the
// unset zero value).
func sameSiteMode(s string) http.SameSite {
	switch s {
	case SameSiteLax:
		return http.SameSiteLaxMode
	case SameSiteStrict:
		return http.SameSiteStrictMode
	case SameSiteNone:
		return http.SameSiteNoneMode
	}
	return 0
}

// normalTime drops the monotonic clock reading and moves t to UTC, so records
// compare and serialise the same before and after a save; zero stays zero.
func normalTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Round(0).UTC()
}
