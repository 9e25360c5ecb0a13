//go:build unix

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/ledger"
	usagepkg "github.com/clearway/clearway/proxy/usage"
)

// usageFixture is one answer shape, as the API sends it (proxy/usage/testdata),
// and the tokens it reports (input without cached tokens, as the ledger
// counts them).
type usageFixture struct {
	upstream, file, model string
	tokens                usagepkg.Tokens
}

var usageFixtures = []usageFixture{
	{"anthropic", "anthropic.json", "claude-sonnet-4-5-20250929", usagepkg.Tokens{Input: 2095, Output: 503, CacheRead: 1200, CacheWrite: 2051}},
	{"anthropic", "anthropic.sse", "claude-opus-4-1-20250805", usagepkg.Tokens{Input: 472, Output: 89, CacheRead: 3000, CacheWrite: 100}},
	{"openai", "openai-chat.json.gz", "gpt-4o-2024-08-06", usagepkg.Tokens{Input: 93, Output: 46, CacheRead: 1024}},
	{"openai", "openai-chat.sse", "gpt-4o-mini-2024-07-18", usagepkg.Tokens{Input: 252, Output: 12, CacheRead: 2048}},
	{"openai", "openai-responses.sse", "gpt-4.1-2025-04-14", usagepkg.Tokens{Input: 25, Output: 11, CacheRead: 512}},
}

var usageClients = []struct{ ua, name string }{
	{"claude-cli/2.1.197 (external, sdk-cli)", "claude-code"},
	{"OpenAI/Python 1.54.3", "openai-python"},
	{"curl/8.5.0", "curl"},
}

// fixtureServer is a TLS upstream answering /v1/<fixture file> with the file.
func fixtureServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/v1/")
		b, err := os.ReadFile(filepath.Join("proxy", "usage", "testdata", strings.TrimSuffix(name, ".gz")))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ct := "application/json"
		if strings.Contains(name, ".sse") {
			ct = "text/event-stream"
		}
		w.Header().Set("Content-Type", ct)
		if strings.HasSuffix(name, ".gz") {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(b)
			_ = zw.Close()
			b = buf.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// trustAll makes the sandbox's clearway trust every server's certificate.
func (sb *sandbox) trustAll(srvs ...*httptest.Server) {
	sb.t.Helper()
	var pems []byte
	for _, s := range srvs {
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})...)
	}
	path := filepath.Join(sb.home, "test-ca.pem")
	if err := os.WriteFile(path, pems, 0o600); err != nil {
		sb.t.Fatal(err)
	}
	sb.env["SSL_CERT_FILE"] = path
}

func usageSandbox(t *testing.T, extra string) (*sandbox, *httptest.Server, *httptest.Server) {
	ant, oai := fixtureServer(t), fixtureServer(t)
	sb := newSandbox(t)
	sb.trustAll(ant, oai)
	sb.writeConfig(fmt.Sprintf("listen: 127.0.0.1:0\nclient_token: false\n%supstreams:\n  anthropic: {url: %s}\n  openai: {url: %s}\n", extra, ant.URL, oai.URL))
	return sb, ant, oai
}

// usageTotals is what the ledger must say: per model and per client.
type usageTotals struct {
	byModel, byClient map[string]usagepkg.Row
}

func (u *usageTotals) add(f usageFixture, client string) {
	for _, m := range []struct {
		rows map[string]usagepkg.Row
		key  string
	}{{u.byModel, f.model}, {u.byClient, client}} {
		r := m.rows[m.key]
		r.Requests++
		r.InputTokens += f.tokens.Input
		r.OutputTokens += f.tokens.Output
		r.CacheReadTokens += f.tokens.CacheRead
		r.CacheWriteTokens += f.tokens.CacheWrite
		m.rows[m.key] = r
	}
}

// cliUsage runs `clearway usage --json` and returns its rows by key.
func cliUsage(t *testing.T, sb *sandbox, by string) map[string]usagepkg.Row {
	t.Helper()
	out, errOut, code := sb.run("", "usage", "--json", "--since", "all", "--by", by)
	if code != 0 {
		t.Fatalf("clearway usage --by %s: exit %d: %s", by, code, errOut)
	}
	var rows []usagepkg.Row
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("clearway usage --json: %v in %q", err, out)
	}
	m := map[string]usagepkg.Row{}
	for _, r := range rows {
		m[r.Key()] = r
	}
	return m
}

func checkTotals(t *testing.T, what string, got, want map[string]usagepkg.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d: %+v", what, len(got), len(want), got)
	}
	for k, w := range want {
		g := got[k]
		if g.Requests != w.Requests || g.InputTokens != w.InputTokens || g.OutputTokens != w.OutputTokens ||
			g.CacheReadTokens != w.CacheReadTokens || g.CacheWriteTokens != w.CacheWriteTokens || g.Errors != 0 {
			t.Errorf("%s %s: got %+v, want %+v", what, k, g, w)
		}
		if g.CostUSD <= 0 {
			t.Errorf("%s %s: no cost", what, k)
		}
	}
}

// TestUsageLedgerThroughTheBinary: requests of every API shape through the
// real binary to TLS upstreams; `clearway usage --json` totals equal what the
// upstreams reported, per model and per client, while the proxy writes
// (read concurrently from the file under WAL too), after a restart (read from
// the file with no instance running), and after more requests.
func TestUsageLedgerThroughTheBinary(t *testing.T) {
	sb, _, _ := usageSandbox(t, "")
	p := sb.serve()
	want := &usageTotals{byModel: map[string]usagepkg.Row{}, byClient: map[string]usagepkg.Row{}}
	dbPath := filepath.Join(sb.dataDir(), "usage.db")

	// Readers of the file run while the proxy writes: no read may fail.
	stopReading := make(chan struct{})
	var reads atomic.Int64
	var readErr atomic.Pointer[string]
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			r, err := ledger.OpenReader(dbPath)
			if err == nil {
				_, err = r.Query(context.Background(), usagepkg.Query{By: "model"})
				_ = r.Close()
			}
			if err != nil && !strings.Contains(err.Error(), "no usage ledger yet") {
				msg := err.Error()
				readErr.Store(&msg)
				return
			}
			reads.Add(1)
		}
	}()
	var sent sync.WaitGroup
	var mu sync.Mutex
	for i := range 60 {
		f := usageFixtures[i%len(usageFixtures)]
		c := usageClients[i%len(usageClients)]
		sent.Add(1)
		go func() {
			defer sent.Done()
			resp, body := request(t, "POST", p.url("/"+f.upstream+"/v1/"+f.file), http.Header{"User-Agent": {c.ua}, "Accept-Encoding": {"gzip"}}, `{"model":"x"}`)
			if resp.StatusCode != 200 || len(body) == 0 {
				t.Errorf("%s: status %d", f.file, resp.StatusCode)
				return
			}
			mu.Lock()
			want.add(f, c.name)
			mu.Unlock()
		}()
		if i%10 == 9 {
			cliUsage(t, sb, "model") // the CLI reads while requests are written
		}
	}
	sent.Wait()
	waitUntil(t, "all 60 rows in the ledger", 10*time.Second, func() bool {
		n := int64(0)
		for _, r := range cliUsage(t, sb, "upstream") {
			n += r.Requests
		}
		return n == 60
	})
	close(stopReading)
	wg.Wait()
	if p := readErr.Load(); p != nil {
		t.Fatalf("a read of the ledger file failed while the proxy wrote: %s", *p)
	}
	if reads.Load() == 0 {
		t.Fatal("no read of the file happened while the proxy wrote")
	}
	checkTotals(t, "by model", cliUsage(t, sb, "model"), want.byModel)
	checkTotals(t, "by client", cliUsage(t, sb, "client"), want.byClient)

	if fi, err := os.Stat(dbPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("usage.db mode %v (%v), want 0600", fi.Mode(), err)
	}
	// Restart: stopped, the CLI reads the file itself; the totals stay.
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("serve exited with %v", err)
	}
	checkTotals(t, "by model after stopping", cliUsage(t, sb, "model"), want.byModel)
	out, errOut, code := sb.run("", "usage", "--since", "all")
	if code != 0 || !strings.Contains(out, "claude-opus-4-1-20250805") || !strings.Contains(out, "TOTAL") || !strings.Contains(out, "estimates") {
		t.Errorf("table: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = sb.run("", "usage", "--since", "7d", "--by", "day", "--csv")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || lines[0] != "day,requests,errors,retries,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cost_usd" ||
		!strings.HasPrefix(lines[1], time.Now().Format("2006-01-02")+",60,0,0,") {
		t.Errorf("csv by day: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := sb.run("", "usage", "--by", "colour"); code != 2 || !strings.Contains(errOut, "day, model, client or upstream") {
		t.Errorf("a bad --by: exit %d: %s", code, errOut)
	}
	p = sb.serve()
	f := usageFixtures[1]
	if resp, _ := request(t, "POST", p.url("/"+f.upstream+"/v1/"+f.file), http.Header{"User-Agent": {"curl/8"}}, `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want.add(f, "curl")
	waitUntil(t, "the new row", 10*time.Second, func() bool { return cliUsage(t, sb, "model")[f.model].Requests == want.byModel[f.model].Requests })
	checkTotals(t, "by model after a restart", cliUsage(t, sb, "model"), want.byModel)
}

// TestUsageSurvivesSIGKILL: rows of requests answered more than a second
// before a SIGKILL are in the ledger afterwards (writes are batched at most
// a second apart, each batch one committed transaction).
func TestUsageSurvivesSIGKILL(t *testing.T) {
	sb, _, _ := usageSandbox(t, "")
	p := sb.serve()
	f := usageFixtures[0]
	var answered []time.Time
	client := &http.Client{Timeout: 30 * time.Second} // one keep-alive connection
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Post(p.url("/anthropic/v1/"+f.file), "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		answered = append(answered, time.Now())
	}
	killed := time.Now()
	p.kill()
	// The margin over the one second: the batch's commit itself, on a
	// machine shared with the rest of the suite (race-built binary).
	const margin = time.Second
	mustHave := 0
	for _, at := range answered {
		if killed.Sub(at) > time.Second+margin {
			mustHave++
		}
	}
	got := cliUsage(t, sb, "upstream")["anthropic"].Requests
	t.Logf("FIGURE sigkill: %d requests answered in 3 s, %d in the ledger after SIGKILL, %d answered more than 2 s before it", len(answered), got, mustHave)
	if got < int64(mustHave) || got > int64(len(answered)) {
		t.Errorf("ledger has %d rows; want at least %d (answered > 2 s before the kill) and at most %d", got, mustHave, len(answered))
	}
	if mustHave == 0 {
		t.Fatal("no request was answered long enough before the kill to check")
	}
}

// TestUsageCorruptAndOff: a corrupt usage.db is moved aside with one warning
// and the proxy serves and records; usage.enabled: false records nothing and
// /_clearway/usage says the ledger is off.
func TestUsageCorruptAndOff(t *testing.T) {
	sb, _, _ := usageSandbox(t, "")
	if err := os.MkdirAll(sb.dataDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(sb.dataDir(), "usage.db")
	if err := os.WriteFile(dbPath, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sb.serve()
	for range 3 {
		if resp, _ := request(t, "POST", p.url("/anthropic/v1/anthropic.json"), nil, `{}`); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	waitUntil(t, "3 rows", 10*time.Second, func() bool { return cliUsage(t, sb, "upstream")["anthropic"].Requests == 3 })
	if aside, _ := filepath.Glob(dbPath + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("moved-aside files %v", aside)
	}
	if n := strings.Count(p.stderr.String(), "usage ledger could not be used"); n != 1 {
		t.Errorf("%d warnings about the ledger, want 1:\n%s", n, p.stderr.String())
	}
	_ = p.stop(syscall.SIGTERM)

	sb2, _, _ := usageSandbox(t, "usage: {enabled: false}\n")
	p2 := sb2.serve()
	if resp, _ := request(t, "POST", p2.url("/anthropic/v1/anthropic.json"), nil, `{}`); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp, _ := request(t, "GET", p2.url("/_clearway/usage"), nil, ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/_clearway/usage with the ledger off: %d", resp.StatusCode)
	}
	_ = p2.stop(syscall.SIGTERM)
	if _, err := os.Stat(filepath.Join(sb2.dataDir(), "usage.db")); !os.IsNotExist(err) {
		t.Errorf("usage.db exists with usage.enabled: false (%v)", err)
	}
}
