package tray

import (
	"sync"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/events"
)

// stateApp is an in-memory App for unit tests of logic; the real-D-Bus
// tests use the helper process's app instead.
type stateApp struct {
	mu    sync.Mutex
	s     view.Snapshot
	token string
	bus   events.Bus
}

func (c *stateApp) Snapshot() (view.Snapshot, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s, nil
}
func (c *stateApp) Events(n int) (<-chan events.Event, func()) { return c.bus.Subscribe(n) }
func (c *stateApp) Start() error                               { return nil }
func (c *stateApp) Stop() error                                { return nil }
func (c *stateApp) ClearCookies(string) error                  { return nil }
func (c *stateApp) SetKey(string, string) error                { return nil }
func (c *stateApp) DeleteKey(string) error                     { return nil }
func (c *stateApp) ClientToken() (string, error)               { return c.token, nil }
func (c *stateApp) DashboardURL() (string, error) {
	return "http://127.0.0.1:8764/_clearway/ui/login?code=x", nil
}
func (c *stateApp) SetPreference(view.Pref, bool) error { return nil }

// recordingSender keeps what it was asked to show.
type recordingSender struct {
	mu   sync.Mutex
	sent []Notification
}

func (r *recordingSender) Send(n Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, n)
	return nil
}
func (r *recordingSender) Close() error { return nil }

// eventWith returns an event of the given kind with s in every text field.
func eventWith(kind int, s string) events.Event {
	return events.Event{Kind: events.Kind(kind), Upstream: "anthropic", Attempt: 3, MaxAttempts: 4, Status: 429,
		Reason: s, Addr: "127.0.0.1:8764", Key: "anthropic", Err: "failed with " + s}
}
