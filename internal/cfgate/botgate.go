package cfgate

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// BotCookieName is the bot-management cookie BotGate issues.
const BotCookieName = "__cf_bm"

// BotGate is a test upstream that behaves like Cloudflare's bot management:
// it hands out a __cf_bm on every answer, a cf_clearance to a request that
// has none, and answers an empty 403 (Server: cloudflare, a cf-ray) to a
// request carrying a __cf_bm it did not issue in its current lifetime, the
// silent "stealth deny" a stale __cf_bm gets after the network changed.
// Forget starts a new lifetime (as if the client came back from another
// network): the __cf_bm values issued so far are refused, the cf_clearance
// values stay good. The zero value is ready to use. Safe for concurrent use.
type BotGate struct {
	Requests      atomic.Int64 // requests received
	Denied        atomic.Int64 // empty 403s given
	Passed        atomic.Int64 // 200s given
	WithClearance atomic.Int64 // passed requests that carried a cf_clearance this gate issued

	mu        sync.Mutex
	bm        map[string]bool // __cf_bm values of the current lifetime
	clearance map[string]bool // cf_clearance values ever issued
	seenBM    []string        // every __cf_bm value the gate received, for assertions
}

// Forget starts a new lifetime: every __cf_bm issued so far is refused.
func (g *BotGate) Forget() {
	g.mu.Lock()
	g.bm = nil
	g.mu.Unlock()
}

// ServeHTTP answers one request as described on BotGate.
func (g *BotGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.Requests.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	g.mu.Lock()
	if g.bm == nil {
		g.bm = map[string]bool{}
	}
	if g.clearance == nil {
		g.clearance = map[string]bool{}
	}
	if c, err := r.Cookie(BotCookieName); err == nil {
		g.seenBM = append(g.seenBM, c.Value)
		if !g.bm[c.Value] {
			g.mu.Unlock()
			g.Denied.Add(1)
			w.Header().Set("Server", "cloudflare")
			w.Header().Set("Cf-Ray", "8f0000000000beef-FRA")
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusForbidden)
			return
		}
	}
	secure := r.TLS != nil
	if c, err := r.Cookie(CookieName); err == nil && g.clearance[c.Value] {
		g.WithClearance.Add(1)
	} else {
		v := randomHex()
		g.clearance[v] = true
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: v, Path: "/", MaxAge: 86400, Secure: secure, HttpOnly: true})
	}
	bm := randomHex()
	g.bm[bm] = true
	g.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: BotCookieName, Value: bm, Path: "/", MaxAge: 1800, Secure: secure, HttpOnly: true})
	g.Passed.Add(1)
	w.Header().Set("Server", "cloudflare")
	w.Header().Set("Cf-Ray", "8f0000000000cafe-FRA")
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"type":"message","content":[{"type":"text","text":"hello"}]}`)
}

// SeenBotCookies returns every __cf_bm value the gate received, in order.
func (g *BotGate) SeenBotCookies() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seenBM...)
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
