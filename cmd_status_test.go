package main

import (
	"testing"
	"time"

	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/keypool"
)

func TestKeysLabelNamesStatesNeverValues(t *testing.T) {
	until := time.Date(2026, 11, 30, 14, 3, 10, 0, time.Local)
	cases := []struct {
		u    proxy.UpstreamStatus
		set  map[string]bool
		want string
	}{
		{proxy.UpstreamStatus{}, nil, "-"},
		{proxy.UpstreamStatus{Key: "anthropic"}, map[string]bool{"anthropic": true}, "anthropic (set)"},
		{proxy.UpstreamStatus{Key: "anthropic"}, map[string]bool{}, "anthropic (missing)"},
		{proxy.UpstreamStatus{Key: "a", KeyPool: []keypool.KeyStatus{
			{Name: "a", State: keypool.StateReady},
			{Name: "b", State: keypool.StateCooling, Until: &until, Why: "429"},
			{Name: "c", State: keypool.StateRefused, Why: "401"},
			{Name: "d", State: keypool.StateReady},
		}}, map[string]bool{"a": true, "b": true, "c": true}, "a (ready), b (cooling until 14:03:10: 429), c (refused: 401), d (missing)"},
	}
	for _, tc := range cases {
		if got := keysLabel(tc.u, tc.set); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
