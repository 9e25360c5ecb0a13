package tray

import (
	"context"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/events"
)

// TestNotifierHonoursTheSwitch runs the notifier loop with an injected clock
// and checks that switching notifications off silences proxy events.
func TestNotifierHonoursTheSwitch(t *testing.T) {
	app := &stateApp{token: "cw_token_0123456789"}
	rec := &recordingSender{}
	now := t0
	n := &notifier{app: app, send: rec, now: func() time.Time { return now }}
	ch := make(chan events.Event) // unbuffered: a send returns once the loop took it
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.run(ctx, ch) }()

	publishAndDrain := func(e events.Event) {
		t.Helper()
		ch <- e
		// The loop is sequential: once it took this marker (never shown),
		// it has finished with e.
		ch <- events.Event{Kind: events.CookiesSaved}
	}
	publishAndDrain(retrying("a", 1)) // notifications are off (zero view.Snapshot)
	app.mu.Lock()
	app.s.Notifications = true
	app.mu.Unlock()
	publishAndDrain(retrying("b", 1))
	close(ch)
	<-done
	stop()

	if len(rec.sent) != 1 || rec.sent[0].Summary != "b: rate limited, retrying" {
		t.Errorf("sent %+v, want only b's retry", rec.sent)
	}
}
