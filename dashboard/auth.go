package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// CodeTTL is how long a one-time login code stays valid.
const CodeTTL = 60 * time.Second

// SessionTTL is the longest a dashboard session lives; it also ends with the
// instance, because sessions are only kept in memory.
const SessionTTL = 12 * time.Hour

// maxCodes and maxSessions bound the memory an unauthenticated caller cannot
// grow anyway (minting needs the client token), but a buggy script could.
const (
	maxCodes    = 64
	maxSessions = 256
)

// Session is one logged-in browser: the cookie value that names it and the
// CSRF token its page must send back in a header on every state change.
type Session struct {
	ID      string
	CSRF    string
	Expires time.Time
}

// Auth mints one-time login codes and the sessions they are exchanged for.
// Everything is random (256 bits), in memory only, compared in constant time.
// The zero value is not usable; build it with NewAuth. Safe for concurrent use.
type Auth struct {
	now func() time.Time

	mu       sync.Mutex
	codes    map[string]time.Time // code -> expiry
	sessions map[string]Session   // id -> session
}

// NewAuth returns an Auth that reads time from now (nil: time.Now).
func NewAuth(now func() time.Time) *Auth {
	if now == nil {
		now = time.Now
	}
	return &Auth{now: now, codes: map[string]time.Time{}, sessions: map[string]Session{}}
}

// randomToken returns 256 random bits, URL-safe base64 without padding.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("dashboard: crypto/rand failed: " + err.Error()) // never on supported OSes
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MintCode returns a new one-time login code, valid for CodeTTL.
func (a *Auth) MintCode() string {
	code := randomToken()
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	if len(a.codes) >= maxCodes {
		for c := range a.codes { // drop an arbitrary old one; codes are short-lived
			delete(a.codes, c)
			break
		}
	}
	a.codes[code] = now.Add(CodeTTL)
	return code
}

// Redeem exchanges a code for a new session. A code works once and only
// before it expires; ok is false otherwise.
func (a *Auth) Redeem(code string) (s Session, ok bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pruneLocked(now)
	var found string
	for c := range a.codes {
		if subtle.ConstantTimeCompare([]byte(c), []byte(code)) == 1 {
			found = c
		}
	}
	if found == "" {
		return Session{}, false
	}
	exp := a.codes[found]
	delete(a.codes, found)
	if !now.Before(exp) {
		return Session{}, false
	}
	if len(a.sessions) >= maxSessions {
		var oldest string
		for id, s := range a.sessions {
			if oldest == "" || s.Expires.Before(a.sessions[oldest].Expires) {
				oldest = id
			}
		}
		delete(a.sessions, oldest)
	}
	s = Session{ID: randomToken(), CSRF: randomToken(), Expires: now.Add(SessionTTL)}
	a.sessions[s.ID] = s
	return s, true
}

// Lookup returns the live session with this id.
func (a *Auth) Lookup(id string) (Session, bool) {
	if id == "" {
		return Session{}, false
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for sid, s := range a.sessions {
		if subtle.ConstantTimeCompare([]byte(sid), []byte(id)) == 1 {
			if !now.Before(s.Expires) {
				delete(a.sessions, sid)
				return Session{}, false
			}
			return s, true
		}
	}
	return Session{}, false
}

// Logout ends the session with this id, if any.
func (a *Auth) Logout(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
}

// Revoke ends every session and forgets every code, e.g. when the client token
// is rotated.
func (a *Auth) Revoke() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.codes)
	clear(a.sessions)
}

func (a *Auth) pruneLocked(now time.Time) {
	for c, exp := range a.codes {
		if !now.Before(exp) {
			delete(a.codes, c)
		}
	}
	for id, s := range a.sessions {
		if !now.Before(s.Expires) {
			delete(a.sessions, id)
		}
	}
}
