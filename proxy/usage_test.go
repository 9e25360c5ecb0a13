package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/ledger"
	"github.com/clearway/clearway/proxy/usage"
)

// fixtureUpstream answers /base/<fixture file> with that file from
// proxy/usage/testdata (the exact shapes the APIs send), gzip-encoded when
// the path ends in .gz, and a 429 on /base/limited.
func fixtureUpstream(t *testing.T) (*httptest.Server, *sync.Map) {
	t.Helper()
	seen := &sync.Map{} // request header X-Clearway-Client values seen by the upstream
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path, r.Header.Get(usage.ClientHeader))
		name := strings.TrimPrefix(r.URL.Path, "/base/")
		if name == "limited" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"no"}}`)
			return
		}
		gz := strings.HasSuffix(name, ".gz")
		b, err := os.ReadFile(filepath.Join("usage", "testdata", strings.TrimSuffix(name, ".gz")))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ct := "application/json"
		if strings.HasSuffix(name, ".sse") || strings.HasSuffix(name, ".sse.gz") {
			ct = "text/event-stream"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Anthropic-Ratelimit-Requests-Remaining", "41")
		if gz {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
			b = buf.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(up.Close)
	return up, seen
}

func withLedger(l *ledger.Ledger) proxyOpt {
	return func(o *Options) { o.Recorder, o.Usage = l, l }
}

func openLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(ledger.Options{Path: filepath.Join(t.TempDir(), "usage.db"), FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestUsageFromEachAPIShape sends one request per answer shape (JSON, SSE,
// gzip) through a TLS upstream and checks the ledger's sums against what the
// upstream reported, per model and per client; the client gets the
// upstream's bytes unchanged.
func TestUsageFromEachAPIShape(t *testing.T) {
	up, seen := fixtureUpstream(t)
	l := openLedger(t)
	tp := startProxy(t, retryConfig, up, withLedger(l))
	cases := []struct {
		path, ua, named, model, client string
		want                           usage.Tokens
	}{
		{"anthropic.json", "Anthropic/Python 0.40.0", "", "claude-sonnet-4-5-20250929", "anthropic-python", usage.Tokens{Input: 2095, Output: 503, CacheRead: 1200, CacheWrite: 2051}},
		{"anthropic.sse", "claude-cli/2.1.197 (external, sdk-cli)", "", "claude-opus-4-1-20250805", "claude-code", usage.Tokens{Input: 472, Output: 89, CacheRead: 3000, CacheWrite: 100}},
		{"openai-chat.json.gz", "OpenAI/Python 1.54.3", "", "gpt-4o-2024-08-06", "openai-python", usage.Tokens{Input: 93, Output: 46, CacheRead: 1024}},
		{"openai-chat.sse.gz", "curl/8.5.0", "", "gpt-4o-mini-2024-07-18", "curl", usage.Tokens{Input: 252, Output: 12, CacheRead: 2048}},
		{"openai-responses.sse", "curl/8.5.0", "nightly-eval", "gpt-4.1-2025-04-14", "nightly-eval", usage.Tokens{Input: 25, Output: 11, CacheRead: 512}},
	}
	for _, c := range cases {
		h := http.Header{"User-Agent": {c.ua}, "Accept-Encoding": {"gzip"}}
		if c.named != "" {
			h.Set(usage.ClientHeader, c.named)
		}
		resp := tp.do(t, "POST", "/api/"+c.path, strings.NewReader(`{"model":"from-request"}`), h)
		got := readAll(t, resp)
		want, _ := os.ReadFile(filepath.Join("usage", "testdata", strings.TrimSuffix(c.path, ".gz")))
		if strings.HasSuffix(c.path, ".gz") {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s: the client did not get the gzip bytes", c.path)
			}
			zr, err := gzip.NewReader(strings.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(zr)
			got = string(b)
		}
		if got != string(want) {
			t.Fatalf("%s: the client got other bytes than the upstream sent", c.path)
		}
		if v, _ := seen.Load("/base/" + c.path); v != "" {
			t.Errorf("%s: the upstream saw X-Clearway-Client %q", c.path, v)
		}
	}
	// A refused request (client error from upstream) and a request to an
	// unknown path count as rows too; the model comes from the request.
	readAll(t, tp.do(t, "POST", "/api/limited", strings.NewReader(`{"max_tokens":5,"model":"claude-haiku-4-5"}`), nil))
	l.Flush()

	byModel := rowsBy(t, l, "model")
	for _, c := range cases {
		r := byModel[c.model]
		if r.Requests != 1 || r.InputTokens != c.want.Input || r.OutputTokens != c.want.Output ||
			r.CacheReadTokens != c.want.CacheRead || r.CacheWriteTokens != c.want.CacheWrite || r.CostUSD <= 0 {
			t.Errorf("model %s: row %+v, want tokens %+v", c.model, r, c.want)
		}
	}
	if r := byModel["claude-haiku-4-5"]; r.Requests != 1 || r.Errors != 1 {
		t.Errorf("refused request row: %+v", r)
	}
	byClient := rowsBy(t, l, "client")
	if r := byClient["curl"]; r.Requests != 1 || r.OutputTokens != 12 {
		t.Errorf("curl row %+v", r)
	}
	if r := byClient["nightly-eval"]; r.Requests != 1 || r.OutputTokens != 11 {
		t.Errorf("named client row %+v", r)
	}
	recent, err := l.Recent(context.Background(), 10)
	if err != nil || len(recent) != 6 {
		t.Fatalf("recent: %v, %d entries", err, len(recent))
	}
	for _, e := range recent {
		if e.Attempts != 1 || e.Upstream != "api" || e.DurationMS <= 0 {
			t.Errorf("entry %+v", e)
		}
		if e.Status == 200 && (e.TTFBMS <= 0 || e.TTFBMS > e.DurationMS) {
			t.Errorf("ttfb %v of %v", e.TTFBMS, e.DurationMS)
		}
		if strings.HasSuffix(e.Model, "sse") != false {
			t.Errorf("model %q", e.Model)
		}
	}
	streamed := 0
	for _, e := range recent {
		if e.Stream {
			streamed++
		}
	}
	if streamed != 3 {
		t.Errorf("%d streamed rows, want 3", streamed)
	}
}

func rowsBy(t *testing.T, src usage.Source, by string) map[string]usage.Row {
	t.Helper()
	rows, err := src.Query(context.Background(), usage.Query{By: by})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]usage.Row{}
	for _, r := range rows {
		m[r.Key()] = r
	}
	return m
}

// TestSSELockstepWithLedger: with a real ledger reading the stream, every
// event still reaches the client before the upstream sends the next (the
// upstream waits for the client's acknowledgement), and the usage of the
// message_start and message_delta events is recorded.
func TestSSELockstepWithLedger(t *testing.T) {
	events := []string{
		`{"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":12,"cache_read_input_tokens":7,"output_tokens":1}}}`,
	}
	for i := range 18 {
		events = append(events, fmt.Sprintf(`{"type":"content_block_delta","index":%d}`, i))
	}
	events = append(events, `{"type":"message_delta","usage":{"output_tokens":40}}`)
	pieces := make([]string, len(events))
	for i, ev := range events {
		pieces[i] = fmt.Sprintf("event: %s\ndata: %s\n\n", eventName(ev), ev)
	}
	acks := make(chan int, 1)
	up := httptest.NewTLSServer(&lockstepSSE{pieces: pieces, acks: acks})
	defer up.Close()
	l := openLedger(t)
	tp := startProxy(t, retryConfig, up, withLedger(l))
	resp := tp.do(t, "POST", "/api/v1/messages", strings.NewReader(`{"stream":true}`), nil)
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		if line != "data: "+events[n] {
			t.Fatalf("event %d: got %q", n, line)
		}
		acks <- n
		n++
	}
	resp.Body.Close()
	if n != len(events) {
		t.Fatalf("got %d events, want %d", n, len(events))
	}
	l.Flush()
	waitFor(t, "the row", 5*time.Second, func() bool { l.Flush(); return rowsBy(t, l, "model")["claude-sonnet-4-5"].Requests == 1 })
	r := rowsBy(t, l, "model")["claude-sonnet-4-5"]
	if r.InputTokens != 12 || r.CacheReadTokens != 7 || r.OutputTokens != 40 {
		t.Errorf("row %+v", r)
	}
}

func eventName(data string) string {
	_, after, _ := strings.Cut(data, `"type":"`)
	name, _, _ := strings.Cut(after, `"`)
	return name
}

// TestUsageAndMetricsRoutes: /_clearway/usage answers the ledger's rows,
// /_clearway/metrics the Prometheus names, both behind the client token.
func TestUsageAndMetricsRoutes(t *testing.T) {
	up, _ := fixtureUpstream(t)
	l := openLedger(t)
	cfg := strings.Replace(retryConfig, "client_token: false", "client_token: true", 1)
	tp := startProxy(t, cfg, up, withLedger(l), func(o *Options) { o.Token = "tok-abc" })
	auth := http.Header{"Authorization": {"Bearer tok-abc"}}
	readAll(t, tp.do(t, "POST", "/api/anthropic.json", strings.NewReader(`{}`), auth))
	readAll(t, tp.do(t, "POST", "/api/anthropic.json", strings.NewReader(`{}`), nil)) // 401, refused locally
	l.Flush()

	for _, path := range []string{"/_clearway/usage", "/_clearway/metrics"} {
		if resp := tp.do(t, "GET", path, nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without the token: %d", path, resp.StatusCode)
		}
	}
	resp := tp.do(t, "GET", "/_clearway/usage?since=24h&by=model", nil, auth)
	body := readAll(t, resp)
	for _, want := range []string{`"model": "claude-sonnet-4-5-20250929"`, `"input_tokens": 2095`, `"requests": 2`, `"errors": 1`, `"prices_date": "`} {
		if !strings.Contains(body, want) {
			t.Errorf("usage answer lacks %s:\n%s", want, body)
		}
	}
	if resp := tp.do(t, "GET", "/_clearway/usage?by=colour", nil, auth); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad grouping: %d", resp.StatusCode)
	}
	if resp := tp.do(t, "GET", "/_clearway/usage?since=yesterdayish", nil, auth); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad since: %d", resp.StatusCode)
	}
	body = readAll(t, tp.do(t, "GET", "/_clearway/status", nil, auth))
	if !strings.Contains(body, `"written": 2`) || !strings.Contains(body, `"dropped": 0`) {
		t.Errorf("status lacks the ledger's counts:\n%s", body)
	}
	body = readAll(t, tp.do(t, "GET", "/_clearway/usage/recent?n=1", nil, auth))
	if !strings.Contains(body, `"status": 401`) {
		t.Errorf("recent: %s", body)
	}
	body = readAll(t, tp.do(t, "GET", "/_clearway/metrics", nil, auth))
	for _, want := range []string{
		`clearway_requests_total{code="2xx",upstream="api"} 1`,
		`clearway_requests_total{code="4xx",upstream="api"} 1`,
		`clearway_tokens_total{kind="cache_write",model="claude-sonnet-4-5-20250929",upstream="api"} 2051`,
		`clearway_request_duration_seconds_bucket{upstream="api",le="+Inf"} 2`,
		`clearway_ratelimit_remaining{kind="requests",upstream="api"} 41`,
		`clearway_cookies{upstream="api"} 0`,
		`clearway_in_flight_requests 0`, // admin requests are not proxied ones
		`clearway_usage_dropped_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
}

// TestUsageOff: with no ledger the routes say so and requests still flow.
func TestUsageOff(t *testing.T) {
	up, _ := fixtureUpstream(t)
	tp := startProxy(t, retryConfig, up)
	if resp := tp.do(t, "POST", "/api/anthropic.json", strings.NewReader(`{}`), nil); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp := tp.do(t, "GET", "/_clearway/usage", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("usage with the ledger off: %d", resp.StatusCode)
	}
}

func TestRequestModel(t *testing.T) {
	cases := map[string]string{
		`{"model":"claude-3"}`: "claude-3",
		`{"messages":[{"content":"\"model\": \"x\""}], "model" : "m"}`:                         "m",
		`{"tools":[{"input_schema":{"properties":{"model":{"type":"string"}}}}],"model":"m2"}`: "m2",
		`{"stream":true}`: "",
		``:                "",
		`{"model":`:       "",
	}
	for in, want := range cases {
		if got := requestModel([]byte(in)); got != want {
			t.Errorf("requestModel(%s) = %q, want %q", in, got, want)
		}
	}
}
