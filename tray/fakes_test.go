package tray

import (
	"sync"

	"github.com/clearway/clearway/proxy/events"
)

// stateCore is an in-memory Core for unit tests of logic; the real-D-Bus
// tests use the helper process's core instead.
type stateCore struct {
	mu    sync.Mutex
	s     State
	token string
	bus   events.Bus
}

func (c *stateCore) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}
func (c *stateCore) Changed() <-chan struct{}                   { return nil }
func (c *stateCore) Events(n int) (<-chan events.Event, func()) { return c.bus.Subscribe(n) }
func (c *stateCore) Start() error                               { return nil }
func (c *stateCore) Stop() error                                { return nil }
func (c *stateCore) ClearCookies(string) error                  { return nil }
func (c *stateCore) SetKey(string, string) error                { return nil }
func (c *stateCore) DeleteKey(string) error                     { return nil }
func (c *stateCore) ClientToken() (string, error)               { return c.token, nil }
func (c *stateCore) SetPreference(string, bool) error           { return nil }

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
