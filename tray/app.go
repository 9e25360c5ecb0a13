package tray

import (
	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/events"
	"github.com/clearway/clearway/proxy/health"
)

// App is what the tray needs from the running application (package app's
// *App): a typed, immutable snapshot with the signal that a newer one
// exists, the event stream for notifications, and the actions of the menu.
//
// Implementations must be safe for concurrent use. Snapshot is called on the
// menu's goroutine and must be cheap (computed when something changed, not
// per call); the actions run on click goroutines and may take a while
// (starting the proxy, the keychain). Errors are shown to the user in a
// notification, so they should read well and hold no secret.
type App interface {
	// Snapshot returns the current state and a channel closed once a newer
	// one exists.
	Snapshot() (view.Snapshot, <-chan struct{})
	// Events subscribes to the proxy's events (for notifications); the
	// function ends the subscription.
	Events(buffer int) (<-chan events.Event, func())
	view.Actions
}

// healthWords are the words the menu uses for h: "idle", "ok",
// "rate limited, retrying" or "failing".
func healthWords(h health.Health) string {
	if h == health.Retrying {
		return "rate limited, retrying"
	}
	return h.String()
}
