//go:build unix

package doctor

import (
	"context"
	"strings"
	"testing"

	"github.com/clearway/clearway/internal/redistest"
	"github.com/clearway/clearway/proxy/config"
)

func TestSharedRedisCheck(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	check := func(url string) Result {
		t.Helper()
		cfg, err := config.Parse([]byte("shared: {redis: \""+url+"\", namespace: acme}\n"), "c.yaml")
		if err != nil {
			t.Fatal(err)
		}
		rs := checkShared(context.Background(), &Options{Config: cfg, ConfigPath: "c.yaml"})
		if len(rs) != 1 || rs[0].Name != "shared-redis" {
			t.Fatalf("results %+v", rs)
		}
		return rs[0]
	}
	if r := check(rs.URL()); r.Status != OK || !strings.Contains(r.Detail, "answers; 0 clearways") || strings.Contains(r.Detail, rs.Password()) {
		t.Errorf("reachable: %+v", r)
	}
	if r := check(rs.URLWithPassword("wrong")); r.Status != Warn || !strings.Contains(r.Detail, "refused the password") || r.Fix == "" {
		t.Errorf("wrong password: %+v", r)
	}
	if r := check("redis://:${key:redis}@" + rs.Addr() + "/0"); r.Status != Warn || !strings.Contains(r.Fix, "clearway keys set redis") {
		t.Errorf("no key store: %+v", r)
	}
	if rs := checkShared(context.Background(), &Options{Config: config.Default()}); len(rs) != 0 {
		t.Errorf("without a shared block: %+v", rs)
	}
}
