// Package dashboard serves clearway's local web dashboard under /_clearway/ui/:
// the page (an html/template plus a small script and uPlot, all embedded), the
// one-time-code login that sets a session cookie, and the session check the
// proxy's admin API uses for calls made from the page. It holds no data of its
// own: the page reads and changes everything through the admin API.
package dashboard

import (
	"bytes"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/clearway/clearway/assets"
)

// Prefix is where the dashboard lives.
const Prefix = "/_clearway/ui/"

// CookieName is the session cookie's name; its Path is /_clearway/ so the
// page's calls to the admin API carry it.
const CookieName = "clearway_session"

// CSRFHeader is the header the page sends its session's CSRF token in on
// every state-changing call.
const CSRFHeader = "X-Clearway-CSRF"

// contentSecurityPolicy allows the page only its own origin: no inline script,
// no other host, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the dashboard's pages. Build it with New. Safe for concurrent use.
type Handler struct {
	auth    *Auth
	version string
	log     *slog.Logger
	static  fs.FS
	index   *template.Template
	now     func() time.Time
}

// Options configure a Handler.
type Options struct {
	Auth    *Auth        // required: codes and sessions
	Version string       // shown in the page
	Logger  *slog.Logger // nil: slog.Default()
}

// New returns a Handler.
func New(opts Options) (*Handler, error) {
	static := assets.Dashboard()
	src, err := fs.ReadFile(static, "index.html")
	if err != nil {
		return nil, err
	}
	tpl, err := template.New("index").Parse(string(src))
	if err != nil {
		return nil, err
	}
	h := &Handler{auth: opts.Auth, version: opts.Version, log: opts.Logger, static: static, index: tpl, now: opts.Auth.now}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h, nil
}

// securityHeaders are set on every dashboard answer.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP answers everything under Prefix. The caller has already checked
// the Host header.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	rest := strings.TrimPrefix(r.URL.Path, Prefix)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case rest == "login":
		h.login(w, r)
	case rest == "" || rest == "index.html":
		h.page(w, r)
	case strings.HasPrefix(rest, "static/"):
		h.serveStatic(w, r, strings.TrimPrefix(rest, "static/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s, ok := h.auth.Redeem(r.URL.Query().Get("code"))
	if !ok {
		h.log.Warn("dashboard login refused: code unknown, used or expired")
		unauthorized(w, "This login link was already used or has expired (links work once, for 60 seconds).")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: s.ID, Path: "/_clearway/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		MaxAge: int(SessionTTL / time.Second), Secure: r.TLS != nil,
	})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s, ok := h.Session(r)
	if !ok {
		unauthorized(w, "You are not logged in to this dashboard.")
		return
	}
	var buf bytes.Buffer
	if err := h.index.Execute(&buf, struct{ CSRF, Version string }{s.CSRF, h.version}); err != nil {
		h.log.Error("dashboard page", "err", err)
		http.Error(w, "dashboard page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

var staticTypes = map[string]string{
	".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
	".png": "image/png", ".svg": "image/svg+xml",
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request, name string) {
	name = path.Clean(name)
	if name == "icon.png" {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(assets.AppIconPNG(64))
		return
	}
	ctype, ok := staticTypes[path.Ext(name)]
	if !ok || strings.HasPrefix(name, ".") || name == "index.html" {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(h.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(data)
}

// unauthorizedPage is what a browser without a session sees: how to open the
// dashboard. It has no script and no outside resource.
var unauthorizedPage = template.Must(template.New("401").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark">
<title>clearway: log in</title></head>
<body><main><h1>clearway dashboard</h1><p>{{.}}</p>
<p>Open it with <code>clearway dashboard</code> in a terminal, or <strong>Open dashboard</strong> in clearway's tray menu.
Each opens a one-time link that logs this browser in.</p></main></body></html>`))

func unauthorized(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_ = unauthorizedPage.Execute(w, why)
}
