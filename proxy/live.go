package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/clearway/clearway/proxy/api"
)

// liveSize is how many finished requests the live log keeps for the dashboard.
const liveSize = 500

// liveLog keeps the last liveSize finished requests in memory and hands each
// new one to the subscribers (the dashboard's event streams). Adding never
// blocks: a subscriber that does not keep up loses requests, not the proxy
// time. The zero value is ready to use; safe for concurrent use.
type liveLog struct {
	mu     sync.Mutex
	ring   [liveSize]api.Request
	next   uint64 // the ID the next request gets; ring[(id-1) % liveSize] holds id
	subs   map[chan api.Request]struct{}
	active bool // a subscriber exists (read without the lock is fine: a hint)
}

// add stamps r with the next ID, keeps it, and offers it to the subscribers.
func (l *liveLog) add(r api.Request) {
	l.mu.Lock()
	l.next++
	r.ID = l.next
	l.ring[(r.ID-1)%liveSize] = r
	for ch := range l.subs {
		select {
		case ch <- r:
		default:
		}
	}
	l.mu.Unlock()
}

// last returns up to n requests, newest first.
func (l *liveLog) last(n int) []api.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > liveSize {
		n = liveSize
	}
	if uint64(n) > l.next {
		n = int(l.next)
	}
	out := make([]api.Request, 0, n)
	for id := l.next; len(out) < n; id-- {
		out = append(out, l.ring[(id-1)%liveSize])
	}
	return out
}

// subscribe returns a channel of new requests and the func that ends it.
func (l *liveLog) subscribe() (<-chan api.Request, func()) {
	ch := make(chan api.Request, 64)
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[chan api.Request]struct{}{}
	}
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

func (s *Server) adminRequests(w http.ResponseWriter, r *http.Request) {
	n := liveSize
	if v := r.URL.Query().Get(api.ParamN); v != "" {
		if i, err := strconv.Atoi(v); err == nil && i > 0 {
			n = i
		}
	}
	writeJSON(w, http.StatusOK, api.Requests{Requests: s.live.last(n)})
}

// statusEvery bounds how often an event stream sends the status while
// requests finish; keepAliveEvery is how often an idle stream sends a comment
// so proxies and browsers keep it open.
const (
	statusEvery    = 500 * time.Millisecond
	keepAliveEvery = 15 * time.Second
)

// adminEvents streams the dashboard's live updates as Server-Sent Events: a
// "request" event as each request finishes, a "status" event at most every
// statusEvery while things change (and once at the start). The browser's
// EventSource reconnects by itself.
func (s *Server) adminEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a long-lived stream
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	reqs, unsubscribe := s.live.subscribe()
	defer unsubscribe()
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := w.Write([]byte("event: " + event + "\ndata: ")); err != nil {
			return false
		}
		if _, err := w.Write(append(b, '\n', '\n')); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send("status", s.Status()) {
		return
	}
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	idle := time.NewTimer(keepAliveEvery)
	defer idle.Stop()
	dirty := false
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopping:
			return
		case req := <-reqs:
			if !send("request", req) {
				return
			}
			dirty = true
		case <-tick.C:
			if dirty {
				if !send("status", s.Status()) {
					return
				}
				dirty = false
			}
		case <-idle.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
			idle.Reset(keepAliveEvery)
		}
	}
}
