package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseKeyPoolFallbacksModelMapBreaker(t *testing.T) {
	c, err := Parse([]byte(`
upstreams:
  supermemory:
    url: https://api.supermemory.ai/v3/https://api.anthropic.com
    keys: [anthropic, anthropic-2]
    headers: {x-supermemory-api-key: "${key:supermemory}"}
    fallbacks: [anthropic]
    breaker: {failures: 3, cooldown: 10s}
  anthropic:
    url: https://api.anthropic.com
    keys: [anthropic, anthropic-3]
    model_map: {claude-opus-4-1: claude-sonnet-4-5}
  plain:
    url: https://example.com
    key: one
    breaker: {failures: 0}
  withfb:
    url: https://example.org
    fallbacks: [plain]
  alone:
    url: https://example.net
    breaker: {cooldown: 5s}
`), "pool.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sm, _ := c.Upstream("supermemory")
	if got, want := sm.Keys, []string{"anthropic", "anthropic-2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if sm.Key != "anthropic" || sm.AuthHeader != "x-api-key" {
		t.Errorf("pool's first key %q, auth header %q", sm.Key, sm.AuthHeader)
	}
	if got := strings.Join(sm.KeyNames(), ","); got != "anthropic,anthropic-2,supermemory" {
		t.Errorf("KeyNames = %s", got)
	}
	if !reflect.DeepEqual(sm.Fallbacks, []string{"anthropic"}) {
		t.Errorf("fallbacks = %v", sm.Fallbacks)
	}
	if sm.Breaker != (Breaker{Failures: 3, Cooldown: 10 * time.Second}) {
		t.Errorf("breaker = %+v", sm.Breaker)
	}
	an, _ := c.Upstream("anthropic")
	if an.ModelMap["claude-opus-4-1"] != "claude-sonnet-4-5" || len(an.ModelMap) != 1 {
		t.Errorf("model_map = %v", an.ModelMap)
	}
	if an.Breaker != (Breaker{Failures: 0, Cooldown: DefaultBreakerCooldown}) {
		t.Errorf("no fallbacks: default breaker = %+v, want off", an.Breaker)
	}
	pl, _ := c.Upstream("plain")
	if !reflect.DeepEqual(pl.Keys, []string{"one"}) || pl.Key != "one" {
		t.Errorf("key: alone gives keys %v key %q", pl.Keys, pl.Key)
	}
	if pl.Breaker.Failures != 0 {
		t.Errorf("breaker off: %+v", pl.Breaker)
	}
	if fb, _ := c.Upstream("withfb"); fb.Breaker != (Breaker{Failures: DefaultBreakerFailures, Cooldown: DefaultBreakerCooldown}) {
		t.Errorf("with fallbacks: default breaker = %+v, want on", fb.Breaker)
	}
	if al, _ := c.Upstream("alone"); al.Breaker.Failures != 0 {
		t.Errorf("cooldown alone turned the breaker on: %+v", al.Breaker)
	}
}

func TestParseResilienceErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		yaml string
		want []string
	}{
		{"upstreams:\n  a:\n    url: https://x\n    key: k\n    keys: [k2]\n", []string{"bad.yaml", "upstreams.a.keys", "not both"}},
		{"upstreams:\n  a:\n    url: https://x\n    keys: [k, k]\n", []string{"upstreams.a.keys[1]", "twice"}},
		{"upstreams:\n  a:\n    url: https://x\n    keys: [\"\"]\n", []string{"upstreams.a.keys[0]", "empty"}},
		{"upstreams:\n  a:\n    url: https://x\n    keys: k\n", []string{"upstreams.a.keys", "want a list"}},
		{"upstreams:\n  a:\n    url: https://x\n    fallbacks: [b]\n", []string{"upstreams.a.fallbacks[0]", "no upstream called \"b\""}},
		{"upstreams:\n  a:\n    url: https://x\n    fallbacks: [a]\n", []string{"upstreams.a.fallbacks[0]", "itself"}},
		{"upstreams:\n  a:\n    url: https://x\n    fallbacks: [b, b]\n  b:\n    url: https://y\n", []string{"upstreams.a.fallbacks[1]", "twice"}},
		{"upstreams:\n  a:\n    url: https://x\n    model_map: {m: \"\"}\n", []string{"upstreams.a.model_map"}},
		{"upstreams:\n  a:\n    url: https://x\n    breaker: {failures: -1}\n", []string{"upstreams.a.breaker.failures", "out of range"}},
		{"upstreams:\n  a:\n    url: https://x\n    breaker: {cooldown: 0s}\n", []string{"upstreams.a.breaker.cooldown"}},
		{"upstreams:\n  a:\n    url: https://x\n    breaker: {failure: 2}\n", []string{"upstreams.a.breaker.failure", "unknown key"}},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml), "bad.yaml")
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tc.yaml, err, w)
			}
		}
	}
}

func TestFallbackCycleIsAllowed(t *testing.T) {
	// Only the first upstream's fallbacks are followed, so a cycle cannot loop.
	if _, err := Parse([]byte("upstreams:\n  a:\n    url: https://x\n    fallbacks: [b]\n  b:\n    url: https://y\n    fallbacks: [a]\n"), "c.yaml"); err != nil {
		t.Fatal(err)
	}
}
