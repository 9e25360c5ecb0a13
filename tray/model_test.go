package tray

import (
	"strings"
	"testing"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy/health"
)

// labels flattens a model into "label" lines, children indented, separators "--".
func labels(es []entry, indent string) []string {
	var out []string
	for _, e := range es {
		switch {
		case e.Separator:
			out = append(out, indent+"--")
		case e.Checkbox:
			mark := "[ ] "
			if e.Checked {
				mark = "[x] "
			}
			out = append(out, indent+mark+e.Label)
		case e.Disabled:
			out = append(out, indent+"("+e.Label+")")
		default:
			out = append(out, indent+e.Label)
		}
		out = append(out, labels(e.Children, indent+"  ")...)
	}
	return out
}

func fullState() view.Snapshot {
	s := running(view.Upstream{Name: "anthropic", URL: "https://api.anthropic.com", Health: health.Retrying, Requests: 5, Retries: 2, Cookies: 2})
	s.Keys = []view.Key{{Name: "anthropic", Set: true, UsedBy: []string{"anthropic"}}, {Name: "openai"}}
	s.Notifications = true
	s.ConfigPath = "/home/u/.config/clearway/config.yaml"
	s.LogDir = "/home/u/.local/state/clearway"
	return s
}

func TestBuildModel(t *testing.T) {
	got := strings.Join(labels(buildModel(fullState()), ""), "\n")
	want := strings.Join([]string{
		"(Running on 127.0.0.1:8764)",
		"--",
		"Stop proxy",
		"--",
		"Copy base URL",
		"Copy Claude Code setup",
		"Copy OpenAI setup",
		"Open dashboard",
		"--",
		"Upstreams (1 retrying)",
		"  anthropic: rate limited, retrying",
		"    (https://api.anthropic.com)",
		"    (5 requests, 2 retries)",
		"    (2 cookies kept)",
		"    Clear cookies",
		"API keys (1 missing)",
		"  anthropic: set",
		"    (Used by anthropic)",
		"    Set from clipboard",
		"    Remove",
		"  openai: missing",
		"    (Not used by any upstream)",
		"    Set from clipboard",
		"    (Remove)",
		"--",
		"[x] Notifications",
		"[ ] Start at login",
		"--",
		"Open config file",
		"Open log folder",
		"Run diagnostics",
		"--",
		"Quit",
	}, "\n")
	if got != want {
		t.Errorf("menu:\n%s\n\nwant:\n%s", got, want)
	}
}

func TestBuildModelStoppedAndEmpty(t *testing.T) {
	got := labels(buildModel(view.Snapshot{Problem: "Port 8764 is in use"}), "")
	for _, want := range []string{"(Port 8764 is in use)", "Start proxy", "(Copy base URL)", "  (No upstreams configured)", "  (No keys configured)", "(Open config file)"} {
		if !contains(got, want) {
			t.Errorf("menu lacks %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func TestModelActionsCarryTheirArgument(t *testing.T) {
	m := buildModel(fullState())
	var found []string
	var walk func([]entry)
	walk = func(es []entry) {
		for _, e := range es {
			if e.Arg != "" {
				found = append(found, e.Label+"="+e.Arg)
			}
			walk(e.Children)
		}
	}
	walk(m)
	want := "Clear cookies=anthropic Set from clipboard=anthropic Remove=anthropic Set from clipboard=openai Remove=openai"
	if got := strings.Join(found, " "); got != want {
		t.Errorf("actions with arguments: %s\nwant %s", got, want)
	}
}

func TestSameShape(t *testing.T) {
	base := fullState()
	counters := fullState()
	counters.Upstreams[0].Requests = 99
	counters.Upstreams[0].Health = health.OK
	counters.Notifications = false
	counters.StartAtLogin = true
	stopped := fullState()
	stopped.Phase = view.Stopped
	moreKeys := fullState()
	moreKeys.Keys = append(moreKeys.Keys, view.Key{Name: "x"})
	problem := fullState()
	problem.Problem = "Keychain locked"

	tests := []struct {
		name string
		b    view.Snapshot
		want bool
	}{
		{"same", base, true},
		{"counters, health and checkboxes", counters, true},
		{"start/stop swaps actions", stopped, false},
		{"a key more", moreKeys, false},
		{"a problem line more", problem, false},
	}
	for _, tt := range tests {
		if got := sameShape(buildModel(base), buildModel(tt.b)); got != tt.want {
			t.Errorf("%s: sameShape = %v, want %v", tt.name, got, tt.want)
		}
	}
}
