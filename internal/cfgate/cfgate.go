// Package cfgate is a test upstream that behaves like Cloudflare in front of
// an API: a request without a valid clearance cookie gets 429, an HTML
// "error code: 1015" page and a fresh cf_clearance cookie bound to its
// User-Agent; a request that carries a clearance with the same User-Agent
// gets through. A client that keeps its cookies between attempts passes on
// its second try; one that does not (a new HTTP client per request) never
// does. Tests of the proxy core, its load and the real binary share it.
package cfgate

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// CookieName is the clearance cookie the gate issues.
const CookieName = "cf_clearance"

// Gate is an http.Handler. The zero value is ready to use; set the fields
// before serving. Safe for concurrent use.
type Gate struct {
	// Value returns the n-th clearance value (n from 1); nil means random
	// hex. Tests make values recognisable to sweep logs for them.
	Value func(n int64) string
	// AnyUserAgent accepts a clearance from any User-Agent, not only the
	// one it was issued to.
	AnyUserAgent bool
	// Status is the status of the refusal page; 0 means 429. Cloudflare
	// sends 403 or 503 too, which only the page's "error code: 1015" marks
	// as a rate limit.
	Status int
	// Encoding, "gzip" or "zstd", compresses the refusal page and says so
	// in Content-Encoding, as Cloudflare does for a client that accepts it.
	Encoding string
	// Pass, if set, answers the requests let through (a real API's answer,
	// streamed or not); nil answers a small Anthropic-style JSON message.
	Pass http.Handler

	Attempts   atomic.Int64 // requests received
	WithCookie atomic.Int64 // requests that carried a clearance cookie
	Passed     atomic.Int64 // requests let through (200)
	Issued     atomic.Int64 // clearances handed out

	mu     sync.Mutex
	issued map[string]string // clearance value -> User-Agent it was issued to
}

// ServeHTTP answers one request as described in the package comment.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.Attempts.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	if c, err := r.Cookie(CookieName); err == nil {
		g.WithCookie.Add(1)
		g.mu.Lock()
		ua, ok := g.issued[c.Value]
		g.mu.Unlock()
		if ok && (g.AnyUserAgent || ua == r.UserAgent()) {
			g.Passed.Add(1)
			if g.Pass != nil {
				g.Pass.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"type":"message","content":[{"type":"text","text":"hello"}]}`)
			return
		}
	}
	n := g.Issued.Add(1)
	val := ""
	if g.Value != nil {
		val = g.Value(n)
	} else {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		val = hex.EncodeToString(b)
	}
	g.mu.Lock()
	if g.issued == nil {
		g.issued = map[string]string{}
	}
	g.issued[val] = r.UserAgent()
	g.mu.Unlock()
	// Cloudflare's cookies are Secure; over a plain-http test server a Secure
	// cookie would never come back, so it is Secure when the request was TLS.
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: val, Path: "/", MaxAge: 3600,
		Secure: r.TLS != nil, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	w.Header().Set("Server", "cloudflare")
	w.Header().Set("Cf-Ray", "8f0000000000abcd-FRA")
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Retry-After", "0") // as Cloudflare sends it: a minimum backoff must still apply
	page := []byte(Page1015)
	switch g.Encoding {
	case "gzip":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(page)
		_ = zw.Close()
		page = buf.Bytes()
	case "zstd":
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		page = enc.EncodeAll(page, nil)
		_ = enc.Close()
	}
	if g.Encoding != "" {
		w.Header().Set("Content-Encoding", g.Encoding)
	}
	status := g.Status
	if status == 0 {
		status = http.StatusTooManyRequests
	}
	w.WriteHeader(status)
	_, _ = w.Write(page)
}

// Page1015 is the HTML page the gate refuses with (before any Encoding).
const Page1015 = "<!DOCTYPE html><html><head><title>Access denied | api.example.com used Cloudflare to restrict access</title></head>" +
	"<body><h1>Error 1015</h1><p>You are being rate limited</p><p>error code: 1015</p></body></html>"
