package cookiejar

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// The values Record.SameSite takes besides "" (attribute absent or without a
// known value).
const (
	SameSiteLax    = "lax"
	SameSiteStrict = "strict"
	SameSiteNone   = "none"
)

// Record is one stored cookie with all its attributes, as the jar resolved
// them: Domain is the canonical host (HostOnly) or the Domain attribute without
// its leading dot, Path is never empty.
//
// Value is a secret: never log it. String, GoString and LogValue leave it out,
// so fmt and slog are safe; encoding/json is not (it would include Value).
//
// The zero value is an empty record that no jar accepts (it has no name or
// domain). Records are plain values, safe to copy.
type Record struct {
	Name, Value, Domain, Path string
	// Quoted is true when the value was sent in double quotes; the quotes
	// are sent back (net/http's Cookie.Quoted).
	Quoted bool
	// HostOnly cookies go to Domain only; others to Domain and its subdomains.
	HostOnly bool
	// Secure cookies go only over https (and to localhost, as browsers do).
	Secure, HttpOnly bool
	// SameSite is "", "lax", "strict" or "none".
	SameSite string
	// Expires is when the cookie stops being sent; zero means a session cookie,
	// which this package keeps across restarts (Cloudflare flows rely on them).
	Expires time.Time
	// Created is when the jar first stored this domain, path and name; it
	// orders cookies of equal path length in the Cookie header.
	Created time.Time
}

// Session reports whether r is a session cookie (no expiry).
func (r Record) Session() bool { return r.Expires.IsZero() }

// size is what r counts against a jar's byte budget: its name, value,
// domain and path.
func (r Record) size() int { return len(r.Name) + len(r.Value) + len(r.Domain) + len(r.Path) }

// Expired reports whether r has an expiry that is not after now.
func (r Record) Expired(now time.Time) bool {
	return !r.Expires.IsZero() && !r.Expires.After(now)
}

// String describes r without its value, e.g.
// `cf_clearance domain=.example.com path=/ expires=2026-01-02T03:04:05Z secure httponly`.
func (r Record) String() string {
	d := r.Domain
	if !r.HostOnly {
		d = "." + d
	}
	exp := "session"
	if !r.Expires.IsZero() {
		exp = r.Expires.UTC().Format(time.RFC3339)
	}
	s := fmt.Sprintf("%s domain=%s path=%s expires=%s", r.Name, d, r.Path, exp)
	if r.Secure {
		s += " secure"
	}
	if r.HttpOnly {
		s += " httponly"
	}
	if r.SameSite != "" {
		s += " samesite=" + r.SameSite
	}
	return s
}

// GoString is String, so %#v does not print the value either.
func (r Record) GoString() string { return "cookiejar.Record{" + r.String() + "}" }

// LogValue makes slog log r's attributes without its value.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", r.Name),
		slog.String("domain", r.Domain),
		slog.Bool("host_only", r.HostOnly),
		slog.String("path", r.Path),
		slog.Time("expires", r.Expires),
	)
}

// recordKey identifies a cookie in a jar, as RFC 6265 does: a new cookie
// with the same domain, path and name replaces the old one.
type recordKey struct{ domain, path, name string }

func (r *Record) key() recordKey { return recordKey{r.Domain, r.Path, r.Name} }

// compareRecords orders records by domain, path, then name.
func compareRecords(a, b Record) int {
	if c := cmp.Compare(a.Domain, b.Domain); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// sameCookie reports whether a and b store the same thing (times compared
// as instants).
func sameCookie(a, b Record) bool {
	return a.Name == b.Name && a.Value == b.Value && a.Domain == b.Domain && a.Path == b.Path &&
		a.Quoted == b.Quoted && a.HostOnly == b.HostOnly && a.Secure == b.Secure &&
		a.HttpOnly == b.HttpOnly && a.SameSite == b.SameSite && a.Expires.Equal(b.Expires) &&
		a.Created.Equal(b.Created)
}

// replayURL is the URL a record is replayed from: https, the record's domain
// as host and its path.
func (r *Record) replayURL() *url.URL {
	return &url.URL{Scheme: "https", Host: replayHost(r.Domain), Path: r.Path}
}

// replayHost returns a URL host that canonicalHost turns back into domain:
// domain itself, or with a port when it looks like host:port (an IPv6
// literal such as "a:b" that came from "[a:b]:80").
func replayHost(domain string) string {
	if h, err := canonicalHost(domain); err == nil && h == domain {
		return domain
	}
	return net.JoinHostPort(domain, "443")
}

// replayCookie is the Set-Cookie equivalent of r: a Domain attribute for
// domain cookies, none for host-only ones, the absolute expiry.
func (r *Record) replayCookie() *http.Cookie {
	c := &http.Cookie{
		Name: r.Name, Value: r.Value, Quoted: r.Quoted, Path: r.Path,
		Secure: r.Secure, HttpOnly: r.HttpOnly, SameSite: sameSiteMode(r.SameSite),
		Expires: r.Expires,
	}
	if !r.HostOnly {
		c.Domain = r.Domain
	}
	return c
}

// deletionCookie is a Set-Cookie that removes r's domain, path and name.
func (r *Record) deletionCookie() *http.Cookie {
	c := &http.Cookie{Name: r.Name, Path: r.Path, MaxAge: -1}
	if !r.HostOnly {
		c.Domain = r.Domain
	}
	return c
}
