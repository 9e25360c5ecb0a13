package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/assets"
	"github.com/clearway/clearway/proxy/health"
	"github.com/clearway/clearway/proxy/retry"
)

func running(ups ...view.Upstream) view.Snapshot {
	return view.Snapshot{Version: "1.0.0", Phase: view.Running, Addr: "127.0.0.1:8764", BaseURL: "http://127.0.0.1:8764", Upstreams: ups}
}

func TestStatusLine(t *testing.T) {
	tests := []struct {
		name        string
		s           view.Snapshot
		status, pbl string
	}{
		{"running", running(), "Running on 127.0.0.1:8764", ""},
		{"stopped", view.Snapshot{}, "Stopped", ""},
		{"port in use", view.Snapshot{Problem: "Port 8764 is in use"}, "Port 8764 is in use", ""},
		{"running with problem", view.Snapshot{Phase: view.Running, Addr: "127.0.0.1:9", Problem: "Keychain locked"}, "Running on 127.0.0.1:9", "⚠ Keychain locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusLine(tt.s); got != tt.status {
				t.Errorf("statusLine = %q, want %q", got, tt.status)
			}
			if got := problemLine(tt.s); got != tt.pbl {
				t.Errorf("problemLine = %q, want %q", got, tt.pbl)
			}
		})
	}
}

func TestToggleLabelStartsWithStopOrStart(t *testing.T) {
	if got := toggleLabel(running()); got != "Stop proxy" {
		t.Errorf("running: %q, want Stop proxy", got)
	}
	if got := toggleLabel(view.Snapshot{}); got != "Start proxy" {
		t.Errorf("stopped: %q, want Start proxy", got)
	}
}

func TestUpstreamLabels(t *testing.T) {
	tests := []struct {
		u               view.Upstream
		label, counters string
	}{
		{view.Upstream{Name: "anthropic"}, "anthropic: idle", "0 requests, 0 retries"},
		{view.Upstream{Name: "anthropic", Health: health.OK, Requests: 1, Retries: 1, LastStatus: 200}, "anthropic: ok", "1 request, 1 retry, last 200"},
		{view.Upstream{Name: "openai", Health: health.Retrying, Requests: 12, Retries: 30, InFlight: 2, LastStatus: 429}, "openai: rate limited, retrying", "12 requests, 30 retries, 2 in flight, last 429"},
		{view.Upstream{Name: "x", Health: health.Failing}, "x: failing", "0 requests, 0 retries"},
	}
	for _, tt := range tests {
		if got := upstreamLabel(tt.u); got != tt.label {
			t.Errorf("upstreamLabel(%+v) = %q, want %q", tt.u, got, tt.label)
		}
		if got := upstreamCounters(tt.u); got != tt.counters {
			t.Errorf("upstreamCounters(%+v) = %q, want %q", tt.u, got, tt.counters)
		}
	}
	if got := cookiesLabel(view.Upstream{Cookies: 1}); got != "1 cookie kept" {
		t.Errorf("cookiesLabel(1) = %q", got)
	}
}

func TestSubmenuTitles(t *testing.T) {
	s := running(view.Upstream{Health: health.Retrying}, view.Upstream{Health: health.Failing}, view.Upstream{Health: health.OK})
	if got, want := upstreamsTitle(s), "Upstreams (1 failing, 1 retrying)"; got != want {
		t.Errorf("upstreamsTitle = %q, want %q", got, want)
	}
	if got := upstreamsTitle(running(view.Upstream{Health: health.OK})); got != "Upstreams" {
		t.Errorf("healthy upstreamsTitle = %q", got)
	}
	s.Keys = []view.Key{{Name: "a", Set: true}, {Name: "b"}, {Name: "c"}}
	if got, want := keysTitle(s), "API keys (2 missing)"; got != want {
		t.Errorf("keysTitle = %q, want %q", got, want)
	}
	if got := keyLabel(view.Key{Name: "openai"}); got != "openai: missing" {
		t.Errorf("keyLabel = %q", got)
	}
	if got := keyLabel(view.Key{Name: "anthropic-2", Set: true, Pool: "refused: 401"}); got != "anthropic-2: refused: 401" {
		t.Errorf("pool keyLabel = %q", got)
	}
	if got := upstreamLabel(view.Upstream{Name: "supermemory", Health: health.Failing, Circuit: view.CircuitOpen, Fallbacks: []string{"anthropic"}}); got != "supermemory: failing, circuit open (using anthropic)" {
		t.Errorf("open-circuit upstreamLabel = %q", got)
	}
	if got := keyUsedBy(view.Key{UsedBy: []string{"anthropic", "supermemory"}}); got != "Used by anthropic, supermemory" {
		t.Errorf("keyUsedBy = %q", got)
	}
}

func TestTooltip(t *testing.T) {
	tests := []struct {
		name string
		s    view.Snapshot
		want string
	}{
		{"stopped", view.Snapshot{Version: "1.0.0"}, "clearway 1.0.0: stopped"},
		{"no version", view.Snapshot{}, "clearway: stopped"},
		{"problem", view.Snapshot{Problem: "Port 8764 is in use"}, "clearway: Port 8764 is in use"},
		{"running", running(view.Upstream{Name: "a", Health: health.OK}), "clearway 1.0.0: running on 127.0.0.1:8764"},
		{"busy", running(view.Upstream{Name: "a", InFlight: 2}, view.Upstream{Name: "b", InFlight: 1}), "clearway 1.0.0: running on 127.0.0.1:8764; 3 in flight"},
		{"retrying", running(view.Upstream{Name: "anthropic", Health: health.Retrying, InFlight: 1}),
			"clearway 1.0.0: running on 127.0.0.1:8764; anthropic rate limited, retrying"},
		{"problem while running", func() view.Snapshot {
			s := running(view.Upstream{Name: "b", Health: health.Failing})
			s.Problem = "Keychain locked"
			return s
		}(),
			"clearway 1.0.0: running on 127.0.0.1:8764; Keychain locked; b failing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tooltip(tt.s); got != tt.want {
				t.Errorf("tooltip = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTooltipIsOneShortLine(t *testing.T) {
	var ups []view.Upstream
	for i := 0; i < 40; i++ {
		ups = append(ups, view.Upstream{Name: strings.Repeat("u", 10), Health: health.Retrying})
	}
	got := tooltip(running(ups...))
	if n := len([]rune(got)); n > maxTooltip {
		t.Errorf("tooltip has %d runes, want at most %d", n, maxTooltip)
	}
	if !strings.HasSuffix(got, "…") || strings.Contains(got, "\n") {
		t.Errorf("tooltip %q: want one line ending in an ellipsis", got)
	}
}

func TestIconState(t *testing.T) {
	withProblem := running(view.Upstream{Health: health.OK})
	withProblem.Problem = "Keychain locked"
	tests := []struct {
		name string
		s    view.Snapshot
		want assets.State
	}{
		{"stopped", view.Snapshot{}, assets.Stopped},
		{"cannot start", view.Snapshot{Problem: "Port 8764 is in use"}, assets.Error},
		{"running idle", running(view.Upstream{}), assets.Running},
		{"running no upstreams", running(), assets.Running},
		{"busy", running(view.Upstream{Health: health.OK, InFlight: 1}), assets.Busy},
		{"retrying beats busy", running(view.Upstream{Health: health.Retrying, InFlight: 3}), assets.Warning},
		{"problem while running", withProblem, assets.Warning},
		{"failing beats retrying", running(view.Upstream{Health: health.Retrying}, view.Upstream{Health: health.Failing}), assets.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := iconState(tt.s); got != tt.want {
				t.Errorf("iconState = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPhasesInTheMenu: while the proxy starts, the status says so and the
// toggle stops it (a Stop abandons the start); while it stops, the toggle
// starts it again.
func TestPhasesInTheMenu(t *testing.T) {
	tests := []struct {
		phase          view.Phase
		status, toggle string
		act            action
		icon           assets.State
	}{
		{view.Stopped, "Stopped", "Start proxy", actStart, assets.Stopped},
		{view.Starting, "Starting on 127.0.0.1:8764…", "Stop proxy", actStop, assets.Busy},
		{view.Running, "Running on 127.0.0.1:8764", "Stop proxy", actStop, assets.Running},
		{view.Stopping, "Stopping…", "Start proxy", actStart, assets.Stopped},
		{view.Failed, "Port 8764 is in use", "Start proxy", actStart, assets.Error},
	}
	for _, tt := range tests {
		t.Run(tt.phase.String(), func(t *testing.T) {
			s := view.Snapshot{Phase: tt.phase, Addr: "127.0.0.1:8764"}
			if tt.phase == view.Failed {
				s.Problem = "Port 8764 is in use"
			}
			if got := statusLine(s); got != tt.status {
				t.Errorf("statusLine = %q, want %q", got, tt.status)
			}
			if got := toggleLabel(s); got != tt.toggle {
				t.Errorf("toggleLabel = %q, want %q", got, tt.toggle)
			}
			m := buildModel(s)
			var toggle *entry
			for i := range m {
				if m[i].Label == tt.toggle {
					toggle = &m[i]
				}
			}
			if toggle == nil || toggle.Action != tt.act {
				t.Errorf("toggle entry %+v, want action %v", toggle, tt.act)
			}
			if got := iconState(s); got != tt.icon {
				t.Errorf("iconState = %v, want %v", got, tt.icon)
			}
		})
	}
}

func TestSharedLine(t *testing.T) {
	team := running()
	team.Shared, team.Team = "connected", 3
	alone := running()
	alone.Shared, alone.Team = "connected", 1
	down := running()
	down.Shared, down.SharedWhy = "degraded", "Redis unreachable: connection refused"
	stopped := down
	stopped.Phase = view.Stopped
	for _, tt := range []struct {
		name string
		s    view.Snapshot
		want string
	}{
		{"no shared block", running(), ""},
		{"team", team, "Team limits shared (3 clearways)"},
		{"alone", alone, "Team limits shared"},
		{"degraded", down, "⚠ Team limits not shared (Redis unreachable: connection refused); local limits apply"},
		{"stopped", stopped, ""},
	} {
		if got := sharedLine(tt.s); got != tt.want {
			t.Errorf("%s: sharedLine = %q, want %q", tt.name, got, tt.want)
		}
		if tt.want != "" && !strings.Contains(labelsOf(buildModel(tt.s)), tt.want) {
			t.Errorf("%s: the menu does not show %q", tt.name, tt.want)
		}
	}
}

func labelsOf(es []entry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Label + "\n")
	}
	return b.String()
}

func TestHeadroomAndTodayLabels(t *testing.T) {
	reset := time.Date(2026, 11, 30, 12, 3, 0, 0, time.Local)
	s := view.Snapshot{Phase: view.Running, Addr: "127.0.0.1:8764", Version: "1.0",
		Today: view.Usage{Requests: 40, Tokens: 1_234_567, CostUSD: 3.1},
		Upstreams: []view.Upstream{
			{Name: "openai", Health: health.OK, RateLimits: []retry.Limit{{Name: "requests", Limit: 500, Remaining: 400}}},
			{Name: "anthropic", Health: health.OK, RateLimits: []retry.Limit{{Name: "tokens", Limit: 40000, Remaining: 38000, Reset: reset}}},
		}}
	if got, want := headroomLine(s.Upstreams[1].RateLimits[0]), "tokens: 38k of 40k left, resets 12:03"; got != want {
		t.Errorf("headroom %q, want %q", got, want)
	}
	if got, want := todayLine(s), "today: 1.2M tokens, ~$3.10"; got != want {
		t.Errorf("today %q, want %q", got, want)
	}
	// The tooltip names the tightest limit (openai has 80% left, anthropic 95%).
	if got, want := tooltip(s), "clearway 1.0: running on 127.0.0.1:8764; openai: requests: 400 of 500 left; today: 1.2M tokens, ~$3.10"; got != want {
		t.Errorf("tooltip %q\nwant    %q", got, want)
	}
	got := strings.Join(labels(buildModel(s), ""), "\n")
	for _, want := range []string{"(today: 1.2M tokens, ~$3.10)", "    (tokens: 38k of 40k left, resets 12:03)", "Open dashboard"} {
		if !strings.Contains(got, want) {
			t.Errorf("menu lacks %q:\n%s", want, got)
		}
	}
}
