package tray

import (
	"strings"
	"testing"

	"github.com/clearway/clearway/assets"
)

func running(ups ...UpstreamState) State {
	return State{Version: "1.0.0", Running: true, Addr: "127.0.0.1:8764", BaseURL: "http://127.0.0.1:8764", Upstreams: ups}
}

func TestStatusLine(t *testing.T) {
	tests := []struct {
		name        string
		s           State
		status, pbl string
	}{
		{"running", running(), "Running on 127.0.0.1:8764", ""},
		{"stopped", State{}, "Stopped", ""},
		{"port in use", State{Problem: "Port 8764 is in use"}, "Port 8764 is in use", ""},
		{"running with problem", State{Running: true, Addr: "127.0.0.1:9", Problem: "Keychain locked"}, "Running on 127.0.0.1:9", "⚠ Keychain locked"},
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
	if got := toggleLabel(State{}); got != "Start proxy" {
		t.Errorf("stopped: %q, want Start proxy", got)
	}
}

func TestUpstreamLabels(t *testing.T) {
	tests := []struct {
		u               UpstreamState
		label, counters string
	}{
		{UpstreamState{Name: "anthropic"}, "anthropic: idle", "0 requests, 0 retries"},
		{UpstreamState{Name: "anthropic", Health: HealthOK, Requests: 1, Retries: 1, LastStatus: 200}, "anthropic: ok", "1 request, 1 retry, last 200"},
		{UpstreamState{Name: "openai", Health: HealthRetrying, Requests: 12, Retries: 30, InFlight: 2, LastStatus: 429}, "openai: rate limited, retrying", "12 requests, 30 retries, 2 in flight, last 429"},
		{UpstreamState{Name: "x", Health: HealthFailing}, "x: failing", "0 requests, 0 retries"},
	}
	for _, tt := range tests {
		if got := upstreamLabel(tt.u); got != tt.label {
			t.Errorf("upstreamLabel(%+v) = %q, want %q", tt.u, got, tt.label)
		}
		if got := upstreamCounters(tt.u); got != tt.counters {
			t.Errorf("upstreamCounters(%+v) = %q, want %q", tt.u, got, tt.counters)
		}
	}
	if got := cookiesLabel(UpstreamState{Cookies: 1}); got != "1 cookie kept" {
		t.Errorf("cookiesLabel(1) = %q", got)
	}
}

func TestSubmenuTitles(t *testing.T) {
	s := running(UpstreamState{Health: HealthRetrying}, UpstreamState{Health: HealthFailing}, UpstreamState{Health: HealthOK})
	if got, want := upstreamsTitle(s), "Upstreams (1 failing, 1 retrying)"; got != want {
		t.Errorf("upstreamsTitle = %q, want %q", got, want)
	}
	if got := upstreamsTitle(running(UpstreamState{Health: HealthOK})); got != "Upstreams" {
		t.Errorf("healthy upstreamsTitle = %q", got)
	}
	s.Keys = []KeyState{{Name: "a", Set: true}, {Name: "b"}, {Name: "c"}}
	if got, want := keysTitle(s), "API keys (2 missing)"; got != want {
		t.Errorf("keysTitle = %q, want %q", got, want)
	}
	if got := keyLabel(KeyState{Name: "openai"}); got != "openai: missing" {
		t.Errorf("keyLabel = %q", got)
	}
	if got := keyLabel(KeyState{Name: "anthropic-2", Set: true, Pool: "refused: 401"}); got != "anthropic-2: refused: 401" {
		t.Errorf("pool keyLabel = %q", got)
	}
	if got := upstreamLabel(UpstreamState{Name: "supermemory", Health: HealthFailing, Circuit: "open", Fallbacks: []string{"anthropic"}}); got != "supermemory: failing, circuit open (using anthropic)" {
		t.Errorf("open-circuit upstreamLabel = %q", got)
	}
	if got := keyUsedBy(KeyState{UsedBy: []string{"anthropic", "supermemory"}}); got != "Used by anthropic, supermemory" {
		t.Errorf("keyUsedBy = %q", got)
	}
}

func TestTooltip(t *testing.T) {
	tests := []struct {
		name string
		s    State
		want string
	}{
		{"stopped", State{Version: "1.0.0"}, "clearway 1.0.0: stopped"},
		{"no version", State{}, "clearway: stopped"},
		{"problem", State{Problem: "Port 8764 is in use"}, "clearway: Port 8764 is in use"},
		{"running", running(UpstreamState{Name: "a", Health: HealthOK}), "clearway 1.0.0: running on 127.0.0.1:8764"},
		{"busy", running(UpstreamState{Name: "a", InFlight: 2}, UpstreamState{Name: "b", InFlight: 1}), "clearway 1.0.0: running on 127.0.0.1:8764; 3 in flight"},
		{"retrying", running(UpstreamState{Name: "anthropic", Health: HealthRetrying, InFlight: 1}),
			"clearway 1.0.0: running on 127.0.0.1:8764; anthropic rate limited, retrying"},
		{"problem while running", func() State {
			s := running(UpstreamState{Name: "b", Health: HealthFailing})
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
	var ups []UpstreamState
	for i := 0; i < 40; i++ {
		ups = append(ups, UpstreamState{Name: strings.Repeat("u", 10), Health: HealthRetrying})
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
	withProblem := running(UpstreamState{Health: HealthOK})
	withProblem.Problem = "Keychain locked"
	tests := []struct {
		name string
		s    State
		want assets.State
	}{
		{"stopped", State{}, assets.Stopped},
		{"cannot start", State{Problem: "Port 8764 is in use"}, assets.Error},
		{"running idle", running(UpstreamState{}), assets.Running},
		{"running no upstreams", running(), assets.Running},
		{"busy", running(UpstreamState{Health: HealthOK, InFlight: 1}), assets.Busy},
		{"retrying beats busy", running(UpstreamState{Health: HealthRetrying, InFlight: 3}), assets.Warning},
		{"problem while running", withProblem, assets.Warning},
		{"failing beats retrying", running(UpstreamState{Health: HealthRetrying}, UpstreamState{Health: HealthFailing}), assets.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := iconState(tt.s); got != tt.want {
				t.Errorf("iconState = %v, want %v", got, tt.want)
			}
		})
	}
}
