package dashboard

import (
	"crypto/subtle"
	"net/http"
)

// Session returns the live session named by r's session cookie.
func (h *Handler) Session(r *http.Request) (Session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, false
	}
	return h.auth.Lookup(c.Value)
}

// Verdict is what Authorize decided about an admin API call made with a
// dashboard session.
type Verdict int

// The verdicts.
const (
	NoSession Verdict = iota // no live session cookie: the caller must use the client token
	Allowed                  // a live session, and for a state change the CSRF token and Origin match
	BadCSRF                  // a live session, but a state change without the session's CSRF token
	BadOrigin                // a live session, but a state change whose Origin is not clearway's own
)

// Authorize decides whether r, an admin API call, is made from a logged-in
// dashboard page. Reads (GET, HEAD) need only the session. Every other method
// also needs the session's CSRF token in CSRFHeader and an Origin header equal
// to clearway's own origin, "http://" + r.Host (the caller has already checked
// that Host names this proxy, port included).
func (h *Handler) Authorize(r *http.Request) Verdict {
	s, ok := h.Session(r)
	if !ok {
		return NoSession
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return Allowed
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(s.CSRF)) != 1 {
		return BadCSRF
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	if r.Header.Get("Origin") != scheme+r.Host {
		return BadOrigin
	}
	return Allowed
}

// Allow implements proxy.BrowserSessions: present is whether r carries a live
// session, allowed whether that session may make this call (see Authorize).
func (h *Handler) Allow(r *http.Request) (present, allowed bool) {
	switch h.Authorize(r) {
	case Allowed:
		return true, true
	case NoSession:
		return false, false
	default:
		return true, false
	}
}

// LoginURL returns a one-time login link for the dashboard served at base
// ("http://127.0.0.1:8764"), valid for CodeTTL.
func (h *Handler) LoginURL(base string) string {
	return base + Prefix + "login?code=" + h.auth.MintCode()
}
