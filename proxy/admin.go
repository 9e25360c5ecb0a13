package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/clearway/clearway/proxy/cookiejar"
)

// maxImportBytes bounds a cookies.txt sent to /_clearway/cookies/import.
const maxImportBytes = 8 << 20

// serveAdmin answers the proxy's own endpoints under /_clearway/. Only health
// is open; the rest need the client token when it is required, because they
// show or change the sessions.
//
//	GET  /_clearway/health            200 {"status":"ok"} while serving
//	GET  /_clearway/status            Status as JSON
//	GET  /_clearway/cookies           ?upstream=NAME&values=1
//	POST /_clearway/cookies/clear     ?upstream=NAME (none: all); &unpin_ua=1 forgets the pinned User-Agent too
//	POST /_clearway/cookies/import    body: Netscape cookies.txt
//	GET  /_clearway/cookies/export    Netscape cookies.txt
//	POST /_clearway/keys/reload       re-read keys and token from the keychain
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request, rest string) {
	w.Header().Set("Cache-Control", "no-store")
	if rest == "/health" {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.version})
		return
	}
	if s.guard.tokenRequired() && !s.guard.tokenOK(r.Header) {
		writeError(w, r, http.StatusUnauthorized, errAuthentication, "the proxy's own endpoints need the client token (`clearway token`)")
		return
	}
	q := r.URL.Query()
	up := q.Get("upstream")
	if up != "" && s.sessions[up] == nil {
		writeError(w, r, http.StatusNotFound, errNotFound, "no upstream called "+strconv.Quote(up))
		return
	}
	route := r.Method + " " + rest
	switch route {
	case "GET /status":
		writeJSON(w, http.StatusOK, s.Status())
	case "GET /cookies":
		writeJSON(w, http.StatusOK, ListCookies(s.cookies, s.names, up, q.Get("values") == "1"))
	case "POST /cookies/clear":
		n := ClearCookies(s.cookies, s.names, up)
		unpin := q.Get("unpin_ua") == "1"
		if unpin {
			s.cookies.Unpin(up)
		}
		s.flushCookies()
		writeJSON(w, http.StatusOK, map[string]any{"cleared": n, "unpinned": unpin})
	case "POST /cookies/import":
		data, err := io.ReadAll(io.LimitReader(r.Body, maxImportBytes+1))
		if err != nil || len(data) > maxImportBytes {
			writeError(w, r, http.StatusRequestEntityTooLarge, errTooLarge, "cookies file too large or unreadable")
			return
		}
		recs, perr := cookiejar.ParseNetscape(bytes.NewReader(data))
		if perr != nil && len(recs) == 0 {
			writeError(w, r, http.StatusBadRequest, errInvalidRequest, perr.Error())
			return
		}
		counts, unmatched := ImportCookies(s.cookies, s.cfg.Upstreams, recs)
		s.flushCookies()
		res := map[string]any{"imported": counts, "unmatched": unmatched}
		if perr != nil {
			res["skipped"] = perr.Error() // bad lines; the good ones were imported
		}
		writeJSON(w, http.StatusOK, res)
	case "GET /cookies/export":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_ = cookiejar.WriteNetscape(w, ExportCookies(s.cookies, s.names))
	case "POST /keys/reload":
		if err := s.ReloadKeys(); err != nil {
			writeError(w, r, http.StatusServiceUnavailable, errUnavailable, "keychain: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": s.keys.status()})
	default:
		writeError(w, r, http.StatusNotFound, errNotFound, "no such endpoint: "+r.Method+" /_clearway"+rest)
	}
}

// flushCookies writes a jar change made through the admin API at once, so the
// file and the live jar stay one.
func (s *Server) flushCookies() {
	if err := s.cookies.Flush(); err != nil {
		s.log.Warn("could not save cookies", "err", err)
	}
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
