package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// adminPrefix is the first path segment that belongs to the proxy itself.
const adminPrefix = "_clearway" // api.Prefix without its slash

// ServeHTTP is the proxy's front door: refuse foreign Hosts and cross-site
// browser requests first, then route /_clearway/... to the proxy's own
// endpoints and /<upstream>/<rest> to that upstream's session.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	if !s.guard.checkHost(r.Host) {
		s.refuseHost(w, r)
		return
	}
	if !s.guard.checkBrowser(r) {
		s.refuseBrowser(w, r)
		return
	}
	name, rest, ok := splitRoute(r.URL.EscapedPath())
	if !ok {
		writeError(w, r, http.StatusBadRequest, errInvalidRequest, "the path must not contain \".\" or \"..\" segments or backslashes")
		return
	}
	if name == adminPrefix {
		s.serveAdmin(w, r)
		return
	}
	sess := s.sessions[name]
	if sess == nil {
		s.noUpstream(w, r, name)
		return
	}
	s.forward(w, r, sess, rest)
}

// The refusals below are kept out of ServeHTTP (go:noinline) so that its
// frame, which is under every request's stack, stays small (see pending).

//go:noinline
func (s *Server) refuseHost(w http.ResponseWriter, r *http.Request) {
	if ok, n := s.refusals.allow("host"); ok {
		s.log.Warn("refused a request with a foreign Host header (DNS rebinding?)", "host", clientValue(r.Host), "path", clientValue(r.URL.Path),
			"suppressed", n)
	}
	writeError(w, r, http.StatusForbidden, errPermission, "Host header "+quoteShort(r.Host)+" is not a local address of this proxy")
}

//go:noinline
func (s *Server) refuseBrowser(w http.ResponseWriter, r *http.Request) {
	if ok, n := s.refusals.allow("origin"); ok {
		s.log.Warn("refused a cross-site browser request", "origin", clientValue(r.Header.Get("Origin")),
			"referer", clientValue(r.Header.Get("Referer")), "sec_fetch_site", clientValue(r.Header.Get("Sec-Fetch-Site")),
			"suppressed", n)
	}
	writeError(w, r, http.StatusForbidden, errPermission, "browser requests from other sites are refused (Origin "+quoteShort(r.Header.Get("Origin"))+")")
}

//go:noinline
func (s *Server) noUpstream(w http.ResponseWriter, r *http.Request, name string) {
	// The upstream names tell a stranger which APIs (and keys) are
	// here: only a caller with the token (or any, when none is
	// required) sees them.
	known := "; see the upstreams in your config (use http://" + s.Addr() + "/<upstream>/...)"
	if s.guard.tokenOK(r.Header) {
		known = "; known upstreams: " + strings.Join(s.names, ", ") + " (use http://" + s.Addr() + "/<upstream>/...)"
	}
	msg := "no upstream called " + quoteShort(name) + known
	if name == "" {
		msg = "no upstream in the path" + known
	}
	writeError(w, r, http.StatusNotFound, errNotFound, msg)
}

// splitRoute splits an escaped path "/name/rest..." into the upstream name and
// the escaped rest ("" or starting with "/"). It refuses dot segments (raw or
// percent-encoded) and backslashes, which could otherwise climb out of the
// upstream's base path on a server that normalises them.
func splitRoute(escaped string) (name, rest string, ok bool) {
	p := strings.TrimPrefix(escaped, "/")
	name, _, found := strings.Cut(p, "/")
	if found {
		rest = p[len(name):] // "/" and what follows, without a concatenation
	}
	if decodedName, err := url.PathUnescape(name); err != nil || decodedName != name {
		// Upstream names are plain; an encoded name is a trick or a typo.
		return "", "", false
	}
	for seg := range strings.SplitSeq(p, "/") {
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", "", false
		}
		if strings.Contains(d, "\\") {
			return "", "", false
		}
		for part := range strings.SplitSeq(d, "/") {
			if part == "." || part == ".." {
				return "", "", false
			}
		}
	}
	return name, rest, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func quoteShort(s string) string {
	return `"` + strings.ReplaceAll(truncate(s, 80), `"`, `\"`) + `"`
}
