package proxy

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// guard decides which requests may use the proxy at all. A web page open in the
// user's browser must never reach the upstreams: DNS rebinding arrives with a
// foreign Host header, CSRF with a foreign Origin or Sec-Fetch-Site. Safe for
// concurrent use once built.
type guard struct {
	hosts   map[string]bool        // lower-case host names accepted (without port)
	port    string                 // the port we listen on
	origins map[string]bool        // extra allowed browser origins ("http://localhost:3000")
	token   atomic.Pointer[[]byte] // nil or empty when the client token is not required
}

func newGuard(listenAddr string, extraHosts, extraOrigins []string, token string) *guard {
	g := &guard{hosts: map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}, origins: map[string]bool{}}
	g.setToken(token)
	host, port, err := net.SplitHostPort(listenAddr)
	if err == nil {
		g.port = port
		if host != "" && host != "0.0.0.0" && host != "::" {
			g.hosts[strings.ToLower(host)] = true
		}
	}
	for _, h := range extraHosts {
		g.hosts[strings.ToLower(h)] = true
	}
	for _, o := range extraOrigins {
		g.origins[strings.TrimSuffix(strings.ToLower(o), "/")] = true
	}
	return g
}

// checkHost accepts a Host header naming a loopback name, optionally with the
// port we listen on. Anything else (attacker names, "localhost.evil.test",
// numeric tricks such as 2130706433 or 0x7f.1, missing Host) is refused.
func (g *guard) checkHost(hostHeader string) bool {
	if hostHeader == "" {
		return false
	}
	host, port, err := net.SplitHostPort(hostHeader)
	if err != nil {
		host, port = hostHeader, ""
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	}
	if port != "" && g.port != "" && g.port != "0" && port != g.port {
		return false
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return g.hosts[host]
}

// checkBrowser refuses cross-site browser requests. Non-browser clients (SDKs,
// curl, IDEs) send neither Origin nor Sec-Fetch-Site and pass.
func (g *guard) checkBrowser(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return g.originAllowed(r.Header.Get("Origin"))
	}
	if o := r.Header.Get("Origin"); o != "" {
		return g.originAllowed(o)
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err != nil {
			return false
		}
		return g.origins[strings.ToLower(u.Scheme+"://"+u.Host)] || g.sameOrigin(u)
	}
	return true
}

// sameOrigin reports whether u (an Origin or Referer) is this proxy's own
// origin: scheme http, a loopback name of ours, and exactly our port. A page
// at http://localhost (port 80) or http://localhost:3000 is another origin,
// even though its Host would pass checkHost.
func (g *guard) sameOrigin(u *url.URL) bool {
	if u.Scheme != "http" || u.Host == "" || u.User != nil {
		return false
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if g.port == "" || g.port == "0" || port != g.port {
		return false
	}
	return g.hosts[strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))]
}

func (g *guard) originAllowed(origin string) bool {
	if origin == "" {
		return false
	}
	o := strings.TrimSuffix(strings.ToLower(origin), "/")
	if g.origins[o] {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Path != "" || u.RawQuery != "" {
		return false // an Origin is scheme://host[:port], nothing more
	}
	return g.sameOrigin(u)
}

// clientToken returns the token a client sent, from x-api-key or
// "Authorization: Bearer".
func clientToken(h http.Header) string {
	if v := h.Get("X-Api-Key"); v != "" {
		return v
	}
	if v := h.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// tokenOK compares the client's token with ours in constant time.
func (g *guard) tokenOK(h http.Header) bool {
	want := g.token.Load()
	if want == nil || len(*want) == 0 {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(clientToken(h)), *want) == 1
}

// tokenRequired reports whether requests must carry the client token.
func (g *guard) tokenRequired() bool {
	want := g.token.Load()
	return want != nil && len(*want) > 0
}

// setToken replaces the expected client token ("" turns the check off).
func (g *guard) setToken(token string) {
	b := []byte(token)
	g.token.Store(&b)
}
