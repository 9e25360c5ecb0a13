package proxy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clearway/clearway/internal/cfgate"
	"github.com/clearway/clearway/proxy/api"
)

// TestLiveLogShowsEachAttempt: a request that passes a Cloudflare-like gate
// on its second attempt appears in GET /_clearway/requests and on the event
// stream with both attempts, the first naming Cloudflare and the wait chosen.
func TestLiveLogShowsEachAttempt(t *testing.T) {
	gate := &cfgate.Gate{}
	up := httptest.NewTLSServer(gate)
	defer up.Close()
	tp := startProxy(t, retryConfig, up)

	evReq, _ := http.NewRequest("GET", tp.base+api.PathEvents, nil)
	evResp, err := http.DefaultClient.Do(evReq)
	if err != nil || evResp.StatusCode != 200 || evResp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %v %v", err, evResp)
	}
	defer evResp.Body.Close()
	lines := bufio.NewScanner(evResp.Body)
	next := func() (event, data string) {
		for lines.Scan() {
			l := lines.Text()
			switch {
			case strings.HasPrefix(l, "event: "):
				event = l[7:]
			case strings.HasPrefix(l, "data: "):
				data = l[6:]
			case l == "" && event != "":
				return event, data
			}
		}
		t.Fatalf("event stream ended: %v", lines.Err())
		return "", ""
	}
	if ev, _ := next(); ev != "status" {
		t.Fatalf("first event %q, want status", ev)
	}

	resp := tp.do(t, "POST", "/api/v1/messages", strings.NewReader(`{"model":"claude-x"}`), http.Header{"User-Agent": {"claude-cli/2.1.0 (external, cli)"}})
	readAll(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	check := func(where string, r api.Request) {
		t.Helper()
		if r.Upstream != "api" || r.Status != 200 || r.Attempts != 2 || len(r.AttemptLog) != 2 || r.Model != "claude-x" || r.Client == "" {
			t.Fatalf("%s: %+v", where, r)
		}
		a1, a2 := r.AttemptLog[0], r.AttemptLog[1]
		if a1.Status != 429 || !strings.Contains(a1.Reason, "1015") || a1.WaitWhy == "" || a1.Cookies != 0 {
			t.Errorf("%s: first attempt %+v", where, a1)
		}
		if a2.Status != 200 || a2.Cookies == 0 {
			t.Errorf("%s: second attempt %+v", where, a2)
		}
	}
	for {
		ev, data := next()
		if ev != "request" {
			continue
		}
		var r api.Request
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			t.Fatal(err)
		}
		check("event", r)
		break
	}
	var list api.Requests
	if err := json.Unmarshal([]byte(readAll(t, tp.do(t, "GET", api.PathRequests, nil, nil))), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Requests) != 1 {
		t.Fatalf("requests: %+v", list)
	}
	check("list", list.Requests[0])
}

func TestLiveLogRing(t *testing.T) {
	var l liveLog
	for i := 0; i < liveSize+7; i++ {
		l.add(api.Request{Status: i})
	}
	got := l.last(1000)
	if len(got) != liveSize || got[0].ID != liveSize+7 || got[0].Status != liveSize+6 || got[liveSize-1].ID != 8 {
		t.Fatalf("len %d first %+v last %+v", len(got), got[0], got[len(got)-1])
	}
	if n := len(l.last(3)); n != 3 {
		t.Fatalf("last(3) gave %d", n)
	}
}
