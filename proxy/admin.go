package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/cookiejar"
)

// newAdminMux routes the proxy's own endpoints under /_clearway/ (package
// api has the paths and JSON types; README's "Admin API" table lists them).
// Only health is open; the rest need the client token when it is required,
// because they show or change the sessions. A path it does not know is a JSON
// 404, a known path with another method a JSON 405 with Allow.
//
// To add an endpoint: a path constant and the answer's type in package api,
// a line here, a row in README's table.
func (s *Server) newAdminMux() *http.ServeMux {
	mux := http.NewServeMux()
	allowed := map[string][]string{} // path -> its methods, for the 405s
	handle := func(method, path string, h http.HandlerFunc, open bool) {
		if !open {
			h = s.adminAuth(h)
		}
		mux.HandleFunc(method+" "+path, h)
		allowed[path] = append(allowed[path], method)
	}
	defer func() {
		// The same paths without a method match every other method.
		for path, methods := range allowed {
			allow := strings.Join(methods, ", ")
			mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allow)
				writeError(w, r, http.StatusMethodNotAllowed, errInvalidRequest, r.Method+" "+path+" is not allowed; use "+allow)
			})
		}
	}()
	handle("GET", api.PathHealth, s.adminHealth, true)
	handle("GET", api.PathStatus, s.adminStatus, false)
	handle("GET", api.PathCookies, s.adminCookies, false)
	handle("POST", api.PathCookiesClear, s.adminCookiesClear, false)
	handle("POST", api.PathCookiesImport, s.adminCookiesImport, false)
	handle("GET", api.PathCookiesExport, s.adminCookiesExport, false)
	handle("POST", api.PathKeysReload, s.adminKeysReload, false)
	handle("GET", api.PathUsage, func(w http.ResponseWriter, r *http.Request) { s.serveUsage(w, r, false) }, false)
	handle("GET", api.PathUsageRecent, func(w http.ResponseWriter, r *http.Request) { s.serveUsage(w, r, true) }, false)
	handle("GET", api.PathMetrics, func(w http.ResponseWriter, r *http.Request) { s.metrics.Handler().ServeHTTP(w, r) }, false)
	handle("GET", api.PathRequests, s.adminRequests, false)
	handle("GET", api.PathEvents, s.adminEvents, false)
	for _, rt := range s.routes {
		handle(rt.Method, rt.Path, rt.Handler, false)
	}
	if s.dashboard != nil {
		mux.Handle(api.PathUI, s.dashboard) // its own session check; the Host guard ran
	}
	mux.HandleFunc(api.Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, errNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

// serveAdmin answers a request under /_clearway/ (the guard has let it in).
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.admin.ServeHTTP(w, r)
}

// adminAuth lets h answer only with the client token (when it is required)
// and a known ?upstream= (when given).
func (s *Server) adminAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.guard.tokenRequired() && !s.guard.tokenOK(r.Header) {
			switch present, allowed := s.browser.Allow(r); {
			case present && !allowed:
				writeError(w, r, http.StatusForbidden, errPermission, "this dashboard call lacks its CSRF token or comes from another origin; reload the dashboard")
				return
			case !present:
				writeError(w, r, http.StatusUnauthorized, errAuthentication, "the proxy's own endpoints need the client token (`clearway token`), or a dashboard session (`clearway dashboard`)")
				return
			}
		}
		if up := r.URL.Query().Get(api.ParamUpstream); up != "" && s.sessions[up] == nil {
			writeError(w, r, http.StatusNotFound, errNotFound, "no upstream called "+strconv.Quote(up))
			return
		}
		h(w, r)
	}
}

func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	h := api.Health{Status: "ok"}
	if s.guard.tokenRequired() && s.guard.tokenOK(r.Header) {
		h.Version = s.version
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) adminStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Server) adminCookies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	writeJSON(w, http.StatusOK, ListCookies(s.cookies, s.names, q.Get(api.ParamUpstream), q.Get(api.ParamValues) == "1"))
}

func (s *Server) adminCookiesClear(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	up := q.Get(api.ParamUpstream)
	res := api.ClearResult{Cleared: ClearCookies(s.cookies, s.names, up), Unpinned: q.Get(api.ParamUnpinUA) == "1"}
	if res.Unpinned {
		s.cookies.Unpin(up)
	}
	s.flushCookies()
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) adminCookiesImport(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, api.MaxImportBytes+1))
	if err != nil || len(data) > api.MaxImportBytes {
		writeError(w, r, http.StatusRequestEntityTooLarge, errTooLarge, "cookies file too large or unreadable")
		return
	}
	recs, perr := cookiejar.ParseNetscape(bytes.NewReader(data))
	if perr != nil && len(recs) == 0 {
		writeError(w, r, http.StatusBadRequest, errInvalidRequest, perr.Error())
		return
	}
	var res api.ImportResult
	res.Imported, res.Unmatched = ImportCookies(s.cookies, s.cfg.Upstreams, recs)
	s.flushCookies()
	if perr != nil {
		res.Skipped = perr.Error() // bad lines; the good ones were imported
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) adminCookiesExport(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = cookiejar.WriteNetscape(w, ExportCookies(s.cookies, s.names))
}

func (s *Server) adminKeysReload(w http.ResponseWriter, r *http.Request) {
	if err := s.ReloadKeys(); err != nil {
		writeError(w, r, http.StatusServiceUnavailable, errUnavailable, "keychain: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, api.KeysResult{Keys: s.keys.status()})
}

// flushCookies writes a jar change made through the admin API at once, so the
// file and the live jar stay one.
func (s *Server) flushCookies() {
	if err := s.cookies.Flush(); err != nil {
		s.log.Warn("could not save cookies", "err", err)
	}
}

// WriteJSON answers with v as the admin API's indented JSON. Routes added
// through Options.Routes use it, so every admin answer has one shape.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteRouteError answers r with the admin API's error JSON (the shape and
// headers of clearway's own errors): a 4xx is an invalid request, a 413 a
// request too large, a 5xx an unavailable service.
func WriteRouteError(w http.ResponseWriter, r *http.Request, status int, message string) {
	typ := errInvalidRequest
	switch {
	case status == http.StatusRequestEntityTooLarge:
		typ = errTooLarge
	case status >= 500:
		typ = errUnavailable
	}
	writeError(w, r, status, typ, message)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, nil, http.StatusInternalServerError, errUpstream, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
