package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultHasTheThreeUpstreams(t *testing.T) {
	c := Default()
	if c.Source != EmbeddedSource || c.Listen != "127.0.0.1:8764" || !c.ClientToken {
		t.Fatalf("default: got source %q listen %q token %v", c.Source, c.Listen, c.ClientToken)
	}
	for _, name := range []string{"anthropic", "openai", "supermemory"} {
		if _, ok := c.Upstream(name); !ok {
			t.Errorf("default lacks upstream %q", name)
		}
	}
	sm, _ := c.Upstream("supermemory")
	if sm.URL.String() != "https://api.supermemory.ai/v3/https://api.anthropic.com" {
		t.Errorf("supermemory url = %s", sm.URL)
	}
	if got := strings.Join(sm.KeyNames(), ","); got != "anthropic,supermemory" {
		t.Errorf("supermemory keys = %q, want anthropic,supermemory", got)
	}
	if sm.Retry.MaxRetries != 5 || sm.Retry.InitialDelay != time.Second || sm.Throttle.MaxConcurrent != 4 {
		t.Errorf("supermemory override not merged: %+v %+v", sm.Retry, sm.Throttle)
	}
	oa, _ := c.Upstream("openai")
	if oa.AuthHeader != "authorization" || oa.Retry.MaxRetries != 3 {
		t.Errorf("openai = %+v", oa)
	}
}

func TestParseFull(t *testing.T) {
	c, err := Parse([]byte(`
listen: 127.0.0.1:9000
client_token: false
max_body: 1MiB
retry: {max_retries: 2, initial_delay: 100ms, max_delay: 2s}
timeouts: {idle_stream: 1m}
upstreams:
  mock:
    url: https://127.0.0.1:4443/base
    user_agent: test-agent/1.0
    headers: {x-extra: "a ${env:HOME} b"}
    throttle: {requests_per_minute: 120, max_concurrent: 2, max_queue_wait: 250ms}
    retry: {max_retries: 4}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	u, ok := c.Upstream("mock")
	if !ok {
		t.Fatal("no mock upstream")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:9000"},
		{"client_token", c.ClientToken, false},
		{"max_body", c.MaxBody, int64(1 << 20)},
		{"idle_stream", c.Timeouts.IdleStream, time.Minute},
		{"connect default", c.Timeouts.Connect, DefaultConnect},
		{"url", u.URL.String(), "https://127.0.0.1:4443/base"},
		{"ua", u.UserAgent, "test-agent/1.0"},
		{"rpm", u.Throttle.RequestsPerMinute, 120.0},
		{"burst default", u.Throttle.Burst, 1},
		{"queue wait", u.Throttle.MaxQueueWait, 250 * time.Millisecond},
		{"retries override", u.Retry.MaxRetries, 4},
		{"initial inherited", u.Retry.InitialDelay, 100 * time.Millisecond},
		{"max delay inherited", u.Retry.MaxDelay, 2 * time.Second},
		{"max retry after default", u.Retry.MaxRetryAfter, DefaultMaxRetryAfter},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestParseErrorsNameKeyAndFile(t *testing.T) {
	cases := []struct {
		yaml string
		want []string
	}{
		{"listen: 127.0.0.1:1\nbogus: 1\n", []string{"bad.yaml", "bogus", "unknown key", "line 2"}},
		{"upstreams:\n  a:\n    url: https://x\n    retyr: {}\n", []string{"upstreams.a.retyr", "unknown key"}},
		{"retry:\n  initial_delay: fast\n", []string{"retry.initial_delay", "not a duration"}},
		{"retry:\n  initial_delay: 30\n", []string{"retry.initial_delay", "not a duration"}},
		{"retry:\n  max_retries: lots\n", []string{"retry.max_retries", "whole number"}},
		{"client_token: maybe\n", []string{"client_token", "true or false"}},
		{"upstreams:\n  a:\n    url: ftp://x\n", []string{"upstreams.a.url", "http"}},
		{"upstreams:\n  _x:\n    url: https://x\n", []string{"upstreams._x", "cannot start with"}},
		{"upstreams:\n  a:\n    url: https://x\n    auth_header: cookie\n    key: k\n", []string{"upstreams.a.auth_header"}},
		{"upstreams:\n  a:\n    url: https://x\n    headers: {h: \"${vault:x}\"}\n", []string{"upstreams.a.headers.h"}},
		{"upstreams:\n  a:\n    url: https://x\n    retry: {max_delay: 1s, initial_delay: 2s}\n", []string{"upstreams.a.retry.max_delay"}},
		{"listen: nonsense\n", []string{"listen", "host:port"}},
		{"upstreams:\n  a:\n    url: https://user:pw@x\n", []string{"upstreams.a.url", "user name or password"}},
		{"max_body: huge\n", []string{"max_body", "not a size"}},
		{"listen: [1\n", []string{"bad.yaml"}},
		{"retry:\n  client_retries: sometimes\n", []string{"retry.client_retries", "allow or never"}},
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

// TestClientRetries: clearway is the one retry authority unless
// retry.client_retries says allow, globally or per upstream.
func TestClientRetries(t *testing.T) {
	c, err := Parse([]byte("retry: {client_retries: allow}\nupstreams:\n  a: {url: https://a}\n  b: {url: https://b, retry: {client_retries: never}}\n  c: {url: https://c}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Retry.ClientRetries || !c.Upstreams[0].Retry.ClientRetries || c.Upstreams[1].Retry.ClientRetries || !c.Upstreams[2].Retry.ClientRetries {
		t.Errorf("client_retries: global %v, a %v b %v c %v", c.Retry.ClientRetries, c.Upstreams[0].Retry.ClientRetries, c.Upstreams[1].Retry.ClientRetries, c.Upstreams[2].Retry.ClientRetries)
	}
	for _, u := range Default().Upstreams {
		if u.Retry.ClientRetries {
			t.Errorf("default config: %s lets the clients retry", u.Name)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CLEARWAY_CONFIG", "")
	if _, err := Load(filepath.Join(dir, "nope.yaml")); err == nil {
		t.Fatal("an explicitly named missing file must be an error")
	}
	t.Setenv("CLEARWAY_CONFIG", filepath.Join(dir, "env.yaml"))
	if _, err := Load(""); err == nil {
		t.Fatal("a missing CLEARWAY_CONFIG file must be an error")
	}
	if err := os.WriteFile(filepath.Join(dir, "env.yaml"), []byte("listen: 127.0.0.1:1234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("")
	if err != nil || c.Listen != "127.0.0.1:1234" || c.Source != filepath.Join(dir, "env.yaml") {
		t.Fatalf("Load via CLEARWAY_CONFIG: %v %+v", err, c)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"10": 10, "1KiB": 1024, "32MiB": 32 << 20, "2MB": 2e6, "1G": 1 << 30} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1XB", "99999999999GiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q): no error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	f.Add([]byte("upstreams:\n  a:\n    url: https://x\n    retry: {max_retries: 1}\n"))
	f.Add([]byte("listen: [1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func TestSharedBlock(t *testing.T) {
	good := `
shared: {redis: "rediss://:${key:redis}@redis.example:6380/0", namespace: acme, lease: 5s}
upstreams:
  api: {url: https://api.example, throttle: {requests_per_minute: 60, tokens_per_minute: 40000}}
`
	c, err := Parse([]byte(good), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Shared.Enabled() || c.Shared.Namespace != "acme" || c.Shared.Lease != 5*time.Second ||
		c.Shared.Timeout != DefaultSharedTimeout || c.Shared.KeyName() != "redis" {
		t.Fatalf("shared = %+v", c.Shared)
	}
	if c.Upstreams[0].Throttle.TokensPerMinute != 40000 {
		t.Fatalf("tokens_per_minute = %v", c.Upstreams[0].Throttle.TokensPerMinute)
	}
	withPw, err := Parse([]byte("shared: {redis: \"redis://:hunter2@127.0.0.1:6379/0\", namespace: acme}\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := withPw.Shared.Redacted(); strings.Contains(r, "hunter2") || !strings.Contains(r, "127.0.0.1:6379") {
		t.Fatalf("Redacted() = %q", r)
	}
	off, _ := Parse([]byte("listen: 127.0.0.1:1\n"), "x.yaml")
	if off.Shared.Enabled() {
		t.Fatal("shared on without a shared block")
	}
	for _, tc := range []struct{ yaml, want string }{
		{`shared: {namespace: acme}`, "shared.redis: is required"},
		{`shared: {redis: "http://h:1", namespace: acme}`, `shared.redis: scheme "http"`},
		{`shared: {redis: "redis://h:1"}`, "shared.namespace: is required"},
		{`shared: {redis: "redis://h:1", namespace: "a b"}`, "shared.namespace"},
		{`shared: {redis: "redis://${key:a}@h:1", namespace: acme}`, "whole password"},
		{`shared: {redis: "redis://h:1", namespace: acme, lease: 10ms}`, "shared.lease"},
		{`shared: {redis: "redis://h:1", namespace: acme, nope: 1}`, "shared.nope"},
		{"upstreams: {api: {url: https://a.example, throttle: {tokens_per_minute: -1}}}", "upstreams.api.throttle.tokens_per_minute"},
	} {
		_, err := Parse([]byte(tc.yaml), "x.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "x.yaml") {
			t.Errorf("%s: err = %v, want it to name %q and the file", tc.yaml, err, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	v := "Bearer ${key:a} ${env:HOME_X} ${key:b}-${key:}"
	var seen []string
	got := Expand(v, "key", func(n string) string { seen = append(seen, n); return "<" + n + ">" })
	if got != "Bearer <a> ${env:HOME_X} <b>-<>" || strings.Join(seen, ",") != "a,b," {
		t.Fatalf("key: %q (asked %v)", got, seen)
	}
	if got := Expand(v, "env", func(n string) string { return "/" + n }); got != "Bearer ${key:a} /HOME_X ${key:b}-${key:}" {
		t.Fatalf("env: %q", got)
	}
}
