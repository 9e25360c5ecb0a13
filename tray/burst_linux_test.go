package tray

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/proxy/events"
)

// TestBurstOnARealNotificationServer sends the notifications of a burst (8
// requests give up on 429, 4 recover, retries between them) through the real
// D-Bus sender to a notification server on a private session bus, and checks
// what the server is left showing for the upstream: one notification, replaced
// in place, that names both the failures and the recoveries.
func TestBurstOnARealNotificationServer(t *testing.T) {
	bus := desktoptest.StartBus(t)
	rec := desktoptest.StartNotificationRecorder(t, bus)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus.Addr)
	send := newSystemSender(slog.Default())
	defer send.Close()

	var c Coalescer
	at := t0
	emit := func(e events.Event) {
		if n, ok := c.Decide(e, at); ok {
			if err := send.Send(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 12; i++ {
		at = at.Add(250 * time.Millisecond)
		emit(retrying("mock", 1))
		if i%3 == 2 {
			emit(events.Event{Kind: events.Recovered, Upstream: "mock", Attempt: 2})
		} else {
			emit(events.Event{Kind: events.GaveUp, Upstream: "mock", Attempt: 2, MaxAttempts: 2, Status: 429})
		}
	}
	want := "mock: 8 requests failed (HTTP 429 after 2 attempts), 4 recovered after retrying."
	all := rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
		return len(ns) > 0 && ns[len(ns)-1].Body == want
	}, 10*time.Second)
	// Everything after the first notification replaced it: one on screen.
	first := all[0].ID
	for _, n := range all[1:] {
		if n.ReplacesID != first {
			t.Fatalf("notification %q did not replace the upstream's first one (id %d): %+v", n.Summary, first, n)
		}
	}
	// No failure was ever replaced by a notice that does not count it.
	sawFailure := false
	for _, n := range all {
		if sawFailure && !strings.Contains(n.Body, "failed") {
			t.Fatalf("a failure notice was replaced by %q", n.Body)
		}
		sawFailure = sawFailure || strings.Contains(n.Body, "failed")
	}
}
