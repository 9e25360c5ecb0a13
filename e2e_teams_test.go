//go:build linux

package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/clearway/clearway/internal/redistest"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/keychain"
)

// countingUpstream is a TLS upstream that records every request it gets:
// when, and from which clearway (the x-instance header each instance's
// config adds). It can hold requests until released, and answer the first
// request with 429 retry-after.
type countingUpstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	arrivals []arrival
	inFlight int
	maxIn    int

	hold        atomic.Bool   // hold each request until release is closed or the client leaves
	release     chan struct{} // closed to let held requests answer
	retryAfter  atomic.Int64  // when > 0, the next request gets 429 with this retry-after (seconds), once
	rateLimited atomic.Int64  // unix nanos of the 429 sent
	usage       atomic.Int64  // when > 0, answer JSON reporting this many input tokens
}

type arrival struct {
	at       time.Time
	instance string
	key      string // the x-api-key it carried
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{release: make(chan struct{})}
	u.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.arrivals = append(u.arrivals, arrival{time.Now(), r.Header.Get("X-Instance"), r.Header.Get("X-Api-Key")})
		u.inFlight++
		u.maxIn = max(u.maxIn, u.inFlight)
		rel := u.release
		u.mu.Unlock()
		defer func() { u.mu.Lock(); u.inFlight--; u.mu.Unlock() }()
		if s := u.retryAfter.Swap(0); s > 0 {
			u.rateLimited.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", strconv.FormatInt(s, 10))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
			return
		}
		if n := u.usage.Load(); n > 0 {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"model":"m","usage":{"input_tokens":%d,"output_tokens":0}}`, n)
			return
		}
		if u.hold.Load() {
			select {
			case <-rel:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// since returns the arrivals at or after from (and before to, when to is not zero).
func (u *countingUpstream) between(from, to time.Time) []arrival {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []arrival
	for _, a := range u.arrivals {
		if !a.at.Before(from) && (to.IsZero() || !a.at.After(to)) {
			out = append(out, a)
		}
	}
	return out
}

func (u *countingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.arrivals)
}

func (u *countingUpstream) current() (inFlight, maxIn int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.inFlight, u.maxIn
}

// teamYAML is one team member's config: the shared Redis and one upstream
// whose requests say which instance sent them.
const teamYAML = `listen: 127.0.0.1:0
client_token: false
log_level: debug
retry: {max_retries: 3, initial_delay: 50ms, max_delay: 200ms}
max_queue_wait: 30s
shared: {redis: "%REDIS%", namespace: e2e-team, lease: %LEASE%, timeout: %TIMEOUT%}
upstreams:
  api:
    url: %UP%
    headers: {x-instance: "%N%"}
    throttle: {%THROTTLE%}
`

// member is one clearway of the team.
type member struct {
	sb *sandbox
	p  *proc
	n  int
}

// teamOptions say how to start a team.
type teamOptions struct {
	size     int
	redisURL string // shared.redis as written in the config
	throttle string // the throttle block's inside
	lease    string // shared.lease
	timeout  string // shared.timeout (default 45ms)
	env      map[string]string
	caFiles  []string // extra certificates to trust (the TLS Redis)
	yaml     string   // the config template (default teamYAML)
}

// startTeam starts size `clearway serve` processes sharing one Redis.
func startTeam(t *testing.T, up *countingUpstream, o teamOptions) []*member {
	t.Helper()
	if o.lease == "" {
		o.lease = "15s"
	}
	if o.timeout == "" {
		o.timeout = "45ms"
	}
	var team []*member
	for n := 1; n <= o.size; n++ {
		sb := newSandbox(t)
		trustAll(t, sb, up.srv, o.caFiles)
		sb.env["USER"] = "member" + strconv.Itoa(n)
		for k, v := range o.env {
			sb.env[k] = v
		}
		cfg := strings.NewReplacer("%REDIS%", o.redisURL, "%LEASE%", o.lease, "%UP%", up.srv.URL,
			"%N%", strconv.Itoa(n), "%THROTTLE%", o.throttle, "%TIMEOUT%", o.timeout).Replace(cmp.Or(o.yaml, teamYAML))
		sb.writeConfig(cfg)
		team = append(team, &member{sb: sb, p: sb.serve(), n: n})
	}
	return team
}

// trustAll makes the sandbox's clearway trust the upstream's certificate and
// the given PEM files (SSL_CERT_FILE holds them all).
func trustAll(t *testing.T, sb *sandbox, up *httptest.Server, extra []string) {
	t.Helper()
	all := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw})
	for _, f := range extra {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	path := filepath.Join(sb.home, "test-ca.pem")
	if err := os.WriteFile(path, all, 0o600); err != nil {
		t.Fatal(err)
	}
	sb.env["SSL_CERT_FILE"] = path
}

func (m *member) status(t *testing.T) proxy.Status {
	t.Helper()
	resp, err := http.Get(m.p.url("/_clearway/status"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st proxy.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// get sends one request through m and returns its status (0: the client gave up).
func (m *member) get(ctx context.Context, client *http.Client) int {
	req, _ := http.NewRequestWithContext(ctx, "GET", m.p.url("/api/v1/models"), nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

var plainClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: &tls.Config{}}, Timeout: 60 * time.Second}

// loadWindow sends requests through members for d (two clients each, each
// sending one after another) and returns how many reached the upstream in
// the window and what the clients got.
func loadWindow(t *testing.T, up *countingUpstream, members []*member, d time.Duration) (got int, statuses map[int]int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	var mu sync.Mutex
	statuses = map[int]int{}
	var wg sync.WaitGroup
	for _, m := range members {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					code := m.get(ctx, plainClient)
					if ctx.Err() != nil {
						return // cut by the end of the window
					}
					mu.Lock()
					statuses[code]++
					mu.Unlock()
				}
			}()
		}
	}
	timer := time.NewTimer(d)
	<-timer.C
	end := time.Now()
	cancel()
	wg.Wait()
	return len(up.between(start, end)), statuses
}

// TestTeamSharesOneRateBudget: requests_per_minute 60 (burst 1) is one budget
// for 1, 3 and 5 clearways: over 10 s of concurrent load through them the
// upstream gets 9 to 11 requests. The team's Redis speaks TLS and its
// password comes from each keychain through ${key:redis}; status lists the
// team; nothing secret is in Redis.
func TestTeamSharesOneRateBudget(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{TLS: true})
	up := newCountingUpstream(t)
	team := startTeam(t, up, teamOptions{
		size:     5,
		redisURL: "rediss://:${key:redis}@" + rs.Addr() + "/0",
		throttle: "requests_per_minute: 60, burst: 1",
		env:      map[string]string{keychain.EnvVar("redis"): rs.Password()},
		caFiles:  []string{rs.CAFile()},
		// This test measures the shared budget, not Redis's speed: on a
		// busy CI machine a call may take longer than the default 45 ms,
		// and that request would take its turn locally (see
		// TestTeamRedisDownAndBack for the timeout).
		timeout: "2s",
	})
	for _, m := range team {
		if sh := m.status(t).Shared; sh == nil || sh.State != "connected" {
			t.Fatalf("member %d: shared = %+v; log: %s", m.n, sh, m.p.stderr.String())
		}
	}
	for _, n := range []int{1, 3, 5} {
		got, statuses := loadWindow(t, up, team[:n], 10*time.Second)
		t.Logf("%d instance(s), 2 clients each, 10 s: the upstream got %d requests; client answers %v; turns taken locally %d", n, got, statuses, localTurns(t, team))
		if lt := localTurns(t, team); lt != 0 {
			t.Errorf("%d instance(s): %d requests took their turn on local limits; the budget was not all shared", n, lt)
		}
		if got < 9 || got > 11 {
			t.Errorf("%d instance(s): the upstream got %d requests in 10 s, want 9 to 11", n, got)
		}
		for code, c := range statuses {
			if code != 200 {
				t.Errorf("%d instance(s): %d client requests got %d", n, c, code)
			}
		}
	}
	// clearway status lists the team's live instances.
	waitUntil(t, "five instances listed", 15*time.Second, func() bool {
		return len(team[0].status(t).Shared.Instances) == 5
	})
	out, _, code := team[0].sb.run("", "status")
	if code != 0 || !strings.Contains(out, "shared: connected, namespace e2e-team") || strings.Contains(out, rs.Password()) {
		t.Fatalf("clearway status (exit %d):\n%s", code, out)
	}
	for n := 1; n <= 5; n++ {
		if !strings.Contains(out, "member"+strconv.Itoa(n)) {
			t.Errorf("clearway status does not list member%d:\n%s", n, out)
		}
	}
	if !strings.Contains(out, "(this one)") {
		t.Errorf("clearway status does not mark this instance:\n%s", out)
	}
	// Nothing secret in Redis: not the password, not a key.
	assertNoSecretsInRedis(t, rs, rs.Password())
	for _, m := range team {
		if strings.Contains(m.p.stderr.String(), rs.Password()) {
			t.Fatalf("member %d logged the Redis password", m.n)
		}
	}
}

// localTurns sums the requests the members let through on local limits.
func localTurns(t *testing.T, team []*member) uint64 {
	var n uint64
	for _, m := range team {
		n += m.status(t).Shared.LocalTurns
	}
	return n
}

// assertNoSecretsInRedis reads every key and value in Redis and fails if
// one holds a secret.
func assertNoSecretsInRedis(t *testing.T, rs *redistest.Server, secrets ...string) {
	t.Helper()
	opt, err := redis.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(rs.URL(), "rediss://") {
		pemBytes, _ := os.ReadFile(rs.CAFile())
		pool := certPool(t, pemBytes)
		opt.TLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys in Redis at all")
	}
	var dump strings.Builder
	for _, k := range keys {
		dump.WriteString(k + "\n")
		switch rdb.Type(ctx, k).Val() {
		case "string":
			dump.WriteString(rdb.Get(ctx, k).Val())
		case "set":
			dump.WriteString(strings.Join(rdb.SMembers(ctx, k).Val(), ","))
		case "zset":
			dump.WriteString(strings.Join(rdb.ZRange(ctx, k, 0, -1).Val(), ","))
		}
		dump.WriteString("\n")
	}
	for _, s := range secrets {
		if strings.Contains(dump.String(), s) {
			t.Fatalf("a secret is stored in Redis:\n%s", dump.String())
		}
	}
	sort.Strings(keys)
	t.Logf("Redis keys: %s", strings.Join(keys, " "))
}

// TestTeamPausesOnRetryAfter: instance 1 gets 429 retry-after: 3; instances
// 2 and 3 send nothing to the upstream for 3 s, then go on, and every client
// request succeeds.
func TestTeamPausesOnRetryAfter(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	up := newCountingUpstream(t)
	team := startTeam(t, up, teamOptions{size: 3, redisURL: rs.URL(), throttle: "max_concurrent: 10"})
	up.retryAfter.Store(3)
	first := make(chan int, 1)
	go func() { first <- team[0].get(context.Background(), plainClient) }()
	waitUntil(t, "instance 1 to wait out the 429", 10*time.Second, func() bool {
		st := team[0].status(t)
		return len(st.Upstreams) == 1 && st.Upstreams[0].Retrying > 0
	})
	limited := time.Unix(0, up.rateLimited.Load())
	results := make(chan int, 8)
	for _, m := range team[1:] {
		for range 4 {
			go func() { results <- m.get(context.Background(), plainClient) }()
		}
	}
	for range 8 {
		if code := <-results; code != 200 {
			t.Errorf("a request through instance 2 or 3 got %d", code)
		}
	}
	if code := <-first; code != 200 {
		t.Errorf("instance 1's request got %d after its retry", code)
	}
	others := 0
	var earliest time.Duration = time.Hour
	for _, a := range up.between(limited.Add(time.Nanosecond), time.Time{}) {
		if a.instance == "1" {
			continue
		}
		others++
		earliest = min(earliest, a.at.Sub(limited))
	}
	t.Logf("instances 2 and 3 sent their first request %s after the 429 with retry-after: 3", earliest.Round(time.Millisecond))
	if others != 8 {
		t.Fatalf("the upstream got %d requests from instances 2 and 3, want 8", others)
	}
	if earliest < 3*time.Second {
		t.Fatalf("instances 2 and 3 sent a request %s after the 429, inside the 3 s pause", earliest)
	}
}

// TestTeamKeyPauseSkipsThePausedKey: with a pool of two keys, a 429 with
// retry-after on key A at instance 1 pauses A for the team; instance 2's
// next request goes with key B at once instead of trying A (whose 429 it
// would only learn from the upstream).
func TestTeamKeyPauseSkipsThePausedKey(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	up := newCountingUpstream(t)
	yaml := strings.Replace(teamYAML, "    headers: {x-instance: \"%N%\"}\n", "    headers: {x-instance: \"%N%\"}\n    keys: [ka, kb]\n", 1)
	team := startTeam(t, up, teamOptions{size: 2, redisURL: rs.URL(), throttle: "max_concurrent: 10", yaml: yaml,
		env: map[string]string{"CLEARWAY_KEY_KA": "sk-team-A-TESTSECRET", "CLEARWAY_KEY_KB": "sk-team-B-TESTSECRET"}})
	up.retryAfter.Store(30)
	if code := team[0].get(context.Background(), plainClient); code != 200 {
		t.Fatalf("instance 1: %d, want 200 (the retry with key B)", code)
	}
	first := up.between(time.Time{}, time.Time{})
	if len(first) != 2 || first[0].key != "sk-team-A-TESTSECRET" || first[1].key != "sk-team-B-TESTSECRET" {
		t.Fatalf("instance 1's attempts with keys %v, want A (429) then B", keysOf(first))
	}
	// Instance 1 writes the pause after its retry is sent: wait for the
	// key itself, so instance 2's request cannot race that write.
	waitForRedisKey(t, rs.URL(), "*pause:api:ka", "key A's pause in Redis")
	if code := team[1].get(context.Background(), plainClient); code != 200 {
		t.Fatalf("instance 2: %d", code)
	}
	var second []arrival
	for _, a := range up.between(time.Time{}, time.Time{}) {
		if a.instance == "2" {
			second = append(second, a)
		}
	}
	if len(second) != 1 || second[0].key != "sk-team-B-TESTSECRET" {
		t.Fatalf("instance 2's attempts with keys %v, want one, with B (A is paused for the team)", keysOf(second))
	}
	// Its status says why A cools.
	seen := false
	for _, u := range team[1].status(t).Upstreams {
		for _, k := range u.KeyPool {
			if k.Name == "ka" {
				seen = true
				if k.State != "cooling" || !strings.Contains(k.Why, "team") {
					t.Errorf("instance 2's status for key ka: %+v, want it cooling, paused by the team", k)
				}
			}
		}
	}
	if !seen {
		t.Error("instance 2's status has no key ka")
	}
}

// waitForRedisKey waits until the Redis at url holds a key matching pattern
// (what an instance writes after it answered, so the test cannot race it).
func waitForRedisKey(t *testing.T, url, pattern, what string) {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	waitUntil(t, what, 10*time.Second, func() bool {
		keys, err := rdb.Keys(context.Background(), pattern).Result()
		return err == nil && len(keys) > 0
	})
}

// keysOf names the test keys the arrivals carried (A, B), never their values.
func keysOf(as []arrival) []string {
	var out []string
	for _, a := range as {
		switch a.key {
		case "sk-team-A-TESTSECRET":
			out = append(out, "A")
		case "sk-team-B-TESTSECRET":
			out = append(out, "B")
		default:
			out = append(out, "other")
		}
	}
	return out
}

// TestTeamConcurrencyAndLeases: max_concurrent 2 holds across three
// clearways, and a SIGKILLed holder's slots free within the lease.
func TestTeamConcurrencyAndLeases(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	up := newCountingUpstream(t)
	const lease = 2 * time.Second
	team := startTeam(t, up, teamOptions{size: 3, redisURL: rs.URL(), throttle: "max_concurrent: 2", lease: "2s"})
	up.hold.Store(true)
	results := make(chan int, 6)
	for _, m := range team {
		for range 2 {
			go func() { results <- m.get(context.Background(), plainClient) }()
		}
	}
	waitUntil(t, "two requests at the upstream and four queued", 15*time.Second, func() bool {
		queued := 0
		for _, m := range team {
			queued += m.status(t).Upstreams[0].QueueLength
		}
		in, _ := up.current()
		return in == 2 && queued == 4
	})
	close(up.release)
	for range 6 {
		if code := <-results; code != 200 {
			t.Errorf("a request got %d", code)
		}
	}
	if _, maxIn := up.current(); maxIn != 2 {
		t.Fatalf("the upstream saw %d requests at once, want at most 2", maxIn)
	}

	// Instance 1 takes both slots, instance 2 queues; SIGKILL instance 1.
	up.mu.Lock()
	up.release = make(chan struct{})
	up.mu.Unlock()
	held := make(chan int, 2)
	for range 2 {
		go func() { held <- team[0].get(context.Background(), plainClient) }()
	}
	waitUntil(t, "instance 1 to hold both slots", 10*time.Second, func() bool { in, _ := up.current(); return in == 2 })
	queued := make(chan int, 1)
	go func() { queued <- team[1].get(context.Background(), plainClient) }()
	waitUntil(t, "instance 2 to queue", 10*time.Second, func() bool { return team[1].status(t).Upstreams[0].QueueLength == 1 })
	if err := team[0].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	err := <-team[0].p.done // reaped, so the cleanup's kill sees it gone
	team[0].p.done <- err
	waitUntil(t, "instance 2's request at the upstream", 3*lease, func() bool {
		return len(up.between(killed, time.Time{})) > 0
	})
	freed := up.between(killed, time.Time{})[0].at.Sub(killed)
	t.Logf("the SIGKILLed holder's slot freed %s after the kill (lease %s)", freed.Round(time.Millisecond), lease)
	if freed > lease+time.Second {
		t.Errorf("slot freed %s after the kill, want within the %s lease", freed, lease)
	}
	close(up.release)
	if code := <-queued; code != 200 {
		t.Errorf("instance 2's request got %d", code)
	}
}

// TestTeamRedisDownAndBack: Redis killed mid-run, requests keep flowing on
// local limits with one notice; Redis back, shared again without a restart.
func TestTeamRedisDownAndBack(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	up := newCountingUpstream(t)
	team := startTeam(t, up, teamOptions{size: 2, redisURL: rs.URL(), throttle: "requests_per_minute: 60000, burst: 100, max_concurrent: 50"})
	m := team[0]
	timed := func(n int) (worst, total time.Duration) {
		for i := range n {
			start := time.Now()
			if code := m.get(context.Background(), plainClient); code != 200 {
				t.Fatalf("request %d got %d", i, code)
			}
			d := time.Since(start)
			worst, total = max(worst, d), total+d
		}
		return worst, total / time.Duration(n)
	}
	timed(1) // the upstream connection's TLS handshake is not what is measured
	worstUp, meanUp := timed(20)
	rs.Kill()
	worstDown, meanDown := timed(20)
	t.Logf("Redis up: mean %s, worst %s per request; Redis killed: mean %s, worst %s", meanUp, worstUp, meanDown, worstDown)
	if worstDown > time.Second {
		t.Errorf("a request waited %s with Redis killed", worstDown)
	}
	waitUntil(t, "status to say degraded", 10*time.Second, func() bool {
		sh := m.status(t).Shared
		return sh.State == "degraded" && strings.Contains(sh.Why, "Redis")
	})
	timed(10)
	if n := strings.Count(m.p.stderr.String(), "Redis unavailable"); n != 1 {
		t.Errorf("%d notices of Redis being down, want 1:\n%s", n, m.p.stderr.String())
	}
	rs.Restart()
	waitUntil(t, "shared again", 15*time.Second, func() bool { return m.status(t).Shared.State == "connected" })
	if !strings.Contains(m.p.stderr.String(), "shared with the team again") {
		t.Errorf("no notice of being shared again:\n%s", m.p.stderr.String())
	}
	// Shared for real: a pause set through one instance holds the other.
	up.retryAfter.Store(2)
	go func() { _ = team[1].get(context.Background(), plainClient) }()
	waitUntil(t, "instance 2 to wait out the 429", 10*time.Second, func() bool { return team[1].status(t).Upstreams[0].Retrying > 0 })
	// Instance 2 writes the pause to Redis after it counts the retry: wait
	// for the key itself, so instance 1's request cannot race that write.
	waitForRedisKey(t, rs.URL(), "*pause:*", "the pause to reach Redis")
	limited := time.Unix(0, up.rateLimited.Load())
	if code := m.get(context.Background(), plainClient); code != 200 {
		t.Fatalf("after the pause: %d", code)
	}
	for _, a := range up.between(limited.Add(time.Nanosecond), time.Time{}) {
		if a.instance == "1" && a.at.Sub(limited) < 2*time.Second {
			t.Fatalf("instance 1 sent a request %s into instance 2's pause after Redis came back", a.at.Sub(limited))
		}
	}
}

// TestTeamStartsWithoutRedis: a wrong password or an unreachable Redis at
// start: clearway serves on local limits and says why.
func TestTeamStartsWithoutRedis(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	up := newCountingUpstream(t)
	for _, tc := range []struct{ name, url, why string }{
		{"wrong password", rs.URLWithPassword("not-the-password"), "refused the password"},
		{"unreachable", "redis://127.0.0.1:" + strconv.Itoa(closedPort(t)) + "/0", "connection refused"},
		{"password key not set", "redis://:${key:nokey}@" + rs.Addr() + "/0", `"nokey"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startTeam(t, up, teamOptions{size: 1, redisURL: tc.url, throttle: "requests_per_minute: 600"})[0]
			sh := m.status(t).Shared
			if sh == nil || sh.State != "degraded" || !strings.Contains(sh.Why, tc.why) {
				t.Fatalf("shared = %+v, want degraded because %s", sh, tc.why)
			}
			if code := m.get(context.Background(), plainClient); code != 200 {
				t.Fatalf("request on local limits: %d", code)
			}
			out, _, _ := m.sb.run("", "status")
			if !strings.Contains(out, "shared: degraded (") || !strings.Contains(out, tc.why) || strings.Contains(out, "not-the-password") {
				t.Fatalf("clearway status:\n%s", out)
			}
			if strings.Contains(m.p.stderr.String(), "not-the-password") {
				t.Fatal("the password is in the log")
			}
		})
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	srv.Close()
	return port
}

func certPool(t *testing.T, pemBytes []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the PEM")
	}
	return pool
}

// TestTeamTokenBudget: tokens_per_minute is one budget charged from the
// usage answers report: 700 tokens used through instance 1 overdraw a
// 600-per-minute budget, and instance 2 is told to wait about 10 s.
func TestTeamTokenBudget(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	up := newCountingUpstream(t)
	up.usage.Store(700)
	team := startTeam(t, up, teamOptions{size: 2, redisURL: rs.URL(), throttle: "tokens_per_minute: 600, max_queue_wait: 1s"})
	if code := team[0].get(context.Background(), plainClient); code != 200 {
		t.Fatalf("first request: %d", code)
	}
	var resp *http.Response
	passed := 0 // requests that went before the charge (made after the answer) reached Redis
	waitUntil(t, "instance 2 to be refused for the overdrawn budget", 10*time.Second, func() bool {
		r, err := plainClient.Get(team[1].p.url("/api/v1/messages"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		resp = r
		if r.StatusCode == http.StatusOK {
			passed++
		}
		return r.StatusCode == http.StatusTooManyRequests
	})
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	t.Logf("instance 2: 429 with retry-after %d s after 700 tokens of a 600/min budget were used through instance 1", ra)
	if ra < 8 || ra > 11 {
		t.Fatalf("retry-after %d, want about 10 s", ra)
	}
	if up.count() != 1+passed {
		t.Fatalf("the upstream got %d requests, want %d", up.count(), 1+passed)
	}
}
