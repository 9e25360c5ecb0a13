package tray

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clearway/clearway/proxy/events"
)

// sender shows notifications on the desktop. Implementations are safe for
// concurrent use.
type sender interface {
	Send(Notification) error
	Close() error
}

// eventBuffer is how many events the notifier's subscription holds; the bus
// drops events for a full subscriber rather than block the proxy.
const eventBuffer = 256

// notifier turns the app's events into desktop notifications.
type notifier struct {
	app       App
	send      sender
	now       func() time.Time
	log       *slog.Logger
	coalescer Coalescer

	secretsOnce sync.Once
	secrets     []string
}

// Notify shows desktop notifications for the app's events until ctx is
// done: rate limited and retrying (once per upstream per burst), recovered,
// gave up, local queue full, upstream unreachable, port in use, keychain
// problems and missing keys, coalesced per upstream and kind for
// DefaultCoalesceWindow, and only while State().Notifications is on. On Linux
// it talks to org.freedesktop.Notifications over its own private session bus
// connection; elsewhere it uses the system's toasts. Run calls it; main may
// call it on its own when it runs headless with a session bus. A nil logger
// means slog.Default().
func Notify(ctx context.Context, app App, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	n := &notifier{app: app, send: newSystemSender(logger), now: time.Now, log: logger}
	defer n.send.Close()
	ch, cancel := app.Events(eventBuffer)
	defer cancel()
	n.run(ctx, ch)
}

// run consumes ch until it closes or ctx is done.
func (n *notifier) run(ctx context.Context, ch <-chan events.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			n.handle(e)
		}
	}
}

// handle decides about one event and sends what the coalescer lets through.
func (n *notifier) handle(e events.Event) {
	if s, _ := n.app.Snapshot(); !s.Notifications {
		return
	}
	note, ok := n.coalescer.Decide(e, n.now())
	if !ok {
		return
	}
	n.deliver(note)
}

// deliver redacts and sends one notification, logging failures.
func (n *notifier) deliver(note Notification) {
	n.secretsOnce.Do(func() {
		// The client token is the one secret the tray knows; keys never
		// leave the app.
		if tok, err := n.app.ClientToken(); err == nil && tok != "" {
			n.secrets = []string{tok}
		}
	})
	note.Summary = redact(note.Summary, n.secrets)
	note.Body = redact(note.Body, n.secrets)
	if err := n.send.Send(note); err != nil {
		n.log.Warn("tray: cannot show notification", "summary", note.Summary, "err", err)
	}
}
