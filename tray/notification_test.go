package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/events"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func retrying(up string, attempt int) events.Event {
	return events.Event{Kind: events.Retrying, Upstream: up, Attempt: attempt, MaxAttempts: 4, Status: 429,
		Reason: "cloudflare 1015", Delay: 2 * time.Second}
}

func TestCoalescerOneNoticePerUpstreamPerBurst(t *testing.T) {
	var c Coalescer
	type step struct {
		at   time.Duration
		e    events.Event
		want string // "" when nothing is shown
	}
	steps := []step{
		{0, retrying("anthropic", 1), "anthropic: rate limited, retrying"},
		{time.Second, retrying("anthropic", 2), ""},
		{time.Second, retrying("anthropic", 1), ""}, // another request, same burst
		{2 * time.Second, retrying("openai", 1), "openai: rate limited, retrying"},
		{3 * time.Second, events.Event{Kind: events.Recovered, Upstream: "anthropic", Attempt: 3}, "anthropic: recovered"},
		{4 * time.Second, events.Event{Kind: events.Recovered, Upstream: "anthropic", Attempt: 2}, ""},
		{29 * time.Second, retrying("anthropic", 3), ""},
		{30 * time.Second, retrying("anthropic", 1), "anthropic: rate limited, retrying"},
		{31 * time.Second, events.Event{Kind: events.Recovered, Upstream: "openai", Attempt: 1}, ""}, // first-try success
		{32 * time.Second, events.Event{Kind: events.Listening, Addr: "127.0.0.1:8764"}, ""},
		{33 * time.Second, events.Event{Kind: events.CookiesSaved}, ""},
	}
	for i, s := range steps {
		n, ok := c.Decide(s.e, t0.Add(s.at))
		got := ""
		if ok {
			got = n.Summary
		}
		if got != s.want {
			t.Errorf("step %d (%v %s at %v): shown %q, want %q", i, s.e.Kind, s.e.Upstream, s.at, got, s.want)
		}
	}
}

func TestCoalescerCountsWhatItSilenced(t *testing.T) {
	c := Coalescer{Window: 10 * time.Second}
	c.Decide(retrying("a", 1), t0)
	for i := 0; i < 5; i++ {
		if _, ok := c.Decide(retrying("a", 2), t0.Add(time.Duration(i)*time.Second)); ok {
			t.Fatalf("retry %d within the window was shown", i)
		}
	}
	n, ok := c.Decide(retrying("a", 1), t0.Add(10*time.Second))
	if !ok || !strings.Contains(n.Body, "5 more retries since the last notice") {
		t.Errorf("after the window: %v %q, want the 5 silenced retries counted", ok, n.Body)
	}
}

func TestCoalescerClockGoingBackwardsDoesNotSilenceForever(t *testing.T) {
	var c Coalescer
	c.Decide(retrying("a", 1), t0)
	if _, ok := c.Decide(retrying("a", 1), t0.Add(-time.Hour)); !ok {
		t.Error("an event stamped before the last notice was silenced")
	}
}

func TestMessages(t *testing.T) {
	tests := []struct {
		e                      events.Event
		key, summary, bodyPart string
		urgent                 bool
	}{
		{retrying("anthropic", 2), "upstream:anthropic", "anthropic: rate limited, retrying", "Attempt 2 of 4 failed (cloudflare 1015)", false},
		{events.Event{Kind: events.Retrying, Upstream: "x", Attempt: 1, Status: 502}, "upstream:x", "x: retrying", "Attempt 1 failed (HTTP 502)", false},
		{events.Event{Kind: events.Recovered, Upstream: "anthropic", Attempt: 3}, "upstream:anthropic", "anthropic: recovered", "after 3 attempts", false},
		{events.Event{Kind: events.GaveUp, Upstream: "anthropic", Attempt: 4, Status: 429, Reason: "429"}, "upstream:anthropic", "anthropic: gave up", "the client got HTTP 429", true},
		{events.Event{Kind: events.Throttled, Upstream: "supermemory"}, "throttle:supermemory", "supermemory: local queue full", "refused a request", false},
		{events.Event{Kind: events.Unreachable, Upstream: "openai", Err: "dial tcp: connection refused"}, "upstream:openai", "openai: unreachable", "connection refused", true},
		{events.Event{Kind: events.PortInUse, Addr: "127.0.0.1:8764"}, "port", "Port 8764 is in use", "Another program listens on 127.0.0.1:8764", true},
		{events.Event{Kind: events.KeychainError, Err: "keychain locked"}, "keychain", "Keychain problem", "keychain locked", true},
		{events.Event{Kind: events.KeyMissing, Upstream: "anthropic", Key: "anthropic"}, "key:anthropic", "API key anthropic is not set", "Set from clipboard", true},
	}
	for _, tt := range tests {
		var c Coalescer
		n, ok := c.Decide(tt.e, t0)
		if !ok {
			t.Errorf("%v: not shown", tt.e.Kind)
			continue
		}
		if n.Key != tt.key || n.Summary != tt.summary || !strings.Contains(n.Body, tt.bodyPart) || n.Urgent != tt.urgent {
			t.Errorf("%v: got %+v\nwant key %q summary %q body containing %q urgent %v", tt.e.Kind, n, tt.key, tt.summary, tt.bodyPart, tt.urgent)
		}
	}
}

func TestKeyMissingCoalescedPerKey(t *testing.T) {
	var c Coalescer
	a := events.Event{Kind: events.KeyMissing, Upstream: "u", Key: "a"}
	b := events.Event{Kind: events.KeyMissing, Upstream: "u", Key: "b"}
	if _, ok := c.Decide(a, t0); !ok {
		t.Fatal("first missing key not shown")
	}
	if _, ok := c.Decide(b, t0); !ok {
		t.Error("a second key missing on the same upstream was silenced")
	}
	if _, ok := c.Decide(a, t0.Add(time.Second)); ok {
		t.Error("the same missing key was shown twice in the window")
	}
}

func TestResilienceNotifications(t *testing.T) {
	var c Coalescer
	cases := []struct {
		e           events.Event
		summary     string
		bodyHas     string
		urgent      bool
		coalescedAt time.Duration // a second identical event this long after is silenced
	}{
		{events.Event{Kind: events.KeyRefused, Upstream: "anthropic", Key: "anthropic-2", Reason: "401"},
			"API key anthropic-2 was refused", "(401)", true, time.Second},
		{events.Event{Kind: events.BreakerOpened, Upstream: "supermemory", Attempt: 5, Reason: "status 503", Delay: 30 * time.Second},
			"supermemory: circuit open", "failed 5 times in a row (status 503); requests skip it for 30s", true, time.Second},
		{events.Event{Kind: events.BreakerClosed, Upstream: "supermemory"},
			"supermemory: circuit closed", "succeeded", false, time.Second},
		{events.Event{Kind: events.FellBack, Upstream: "supermemory", Fallback: "anthropic", Reason: "status 429"},
			"supermemory: answered by anthropic", "fallback anthropic", false, time.Second},
		{events.Event{Kind: events.SharedDegraded, Reason: "Redis unreachable: connection refused"},
			"Team limits not shared", "(Redis unreachable: connection refused)", false, time.Second},
		{events.Event{Kind: events.SharedConnected},
			"Team limits shared again", "shared again", false, time.Second},
	}
	for i, tc := range cases {
		at := t0.Add(time.Duration(i) * time.Minute)
		n, ok := c.Decide(tc.e, at)
		if !ok || n.Summary != tc.summary || !strings.Contains(n.Body, tc.bodyHas) || n.Urgent != tc.urgent {
			t.Errorf("%v: shown %v %+v, want %q containing %q urgent %v", tc.e.Kind, ok, n, tc.summary, tc.bodyHas, tc.urgent)
		}
		if _, ok := c.Decide(tc.e, at.Add(tc.coalescedAt)); ok {
			t.Errorf("%v: a repeat within the window was shown", tc.e.Kind)
		}
	}
}

// TestBurstNeverHidesAFailure replays the burst from issue 14: 8 requests
// fail with 429 after 2 attempts and 4 recover, interleaved, with retries in
// between. Whatever is left on screen for the upstream (the last notification
// shown under its key) names both the failures and the recoveries.
func TestBurstNeverHidesAFailure(t *testing.T) {
	var c Coalescer
	gaveUp := events.Event{Kind: events.GaveUp, Upstream: "mock", Attempt: 2, MaxAttempts: 2, Status: 429}
	recovered := events.Event{Kind: events.Recovered, Upstream: "mock", Attempt: 2}
	onScreen := map[string]Notification{} // key -> the notification the daemon shows
	at := t0
	for i := 0; i < 12; i++ {
		at = at.Add(300 * time.Millisecond)
		if n, ok := c.Decide(retrying("mock", 1), at); ok {
			onScreen[n.Key] = n
		}
		e := gaveUp
		if i%3 == 2 {
			e = recovered
		}
		if n, ok := c.Decide(e, at.Add(100*time.Millisecond)); ok {
			onScreen[n.Key] = n
		}
	}
	n := onScreen["upstream:mock"]
	want := "mock: 8 requests failed (HTTP 429 after 2 attempts), 4 recovered after retrying."
	if n.Body != want || !n.Urgent {
		t.Fatalf("left on screen: %+v\nwant body %q, urgent", n, want)
	}
	// A burst later, with nothing failed, a recovery alone says "recovered".
	n, ok := c.Decide(recovered, at.Add(time.Minute))
	if !ok || n.Summary != "mock: recovered" || n.Urgent {
		t.Fatalf("recovery in a new burst: %v %+v", ok, n)
	}
}
