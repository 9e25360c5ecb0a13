package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/cfgate"
	"github.com/clearway/clearway/proxy/throttle"
	"go.uber.org/goleak"
)

// The 429 storm: 500 concurrent clients against an upstream that always says
// 429, and against one that says 429 until the request carries the cookie it
// handed out. Every client must get an answer; afterwards the goroutines and
// the heap must be back where they started.

const stormClients = 500

const stormConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 3, initial_delay: 10ms, max_delay: 50ms, max_retry_after: 60s}
upstreams:
  api:
    url: %UPSTREAM%
`

// always429 answers every request with 429 and no server-chosen wait, so the
// proxy's own backoff (10, 20, 40 ms) applies.
type always429 struct{ hits atomic.Int64 }

func (a *always429) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.hits.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
}

// stormResult is what one storm measured.
type stormResult struct {
	statuses  map[int]int
	attempts  map[string]int
	wall, cpu time.Duration
	heapPeak  uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // the second empties sync.Pool victim caches (32 KiB copy buffers)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// storm sends n concurrent POSTs through tp and collects the answers.
func storm(t *testing.T, tp *testProxy, n int) stormResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	res := stormResult{statuses: map[int]int{}, attempts: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // heap high-water mark while the storm runs
		defer close(sampled)
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()
	cpu0, start := cpuTime(), time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(tp.base+"/api/v1/messages", "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.statuses[-1]++
				t.Errorf("client %d got no answer: %v", i, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			res.statuses[resp.StatusCode]++
			res.attempts[resp.Header.Get("X-Clearway-Attempts")]++
		}()
	}
	wg.Wait()
	res.wall, res.cpu = time.Since(start), cpuTime()-cpu0
	close(stopSampling)
	<-sampled
	res.heapPeak = peak.Load()
	return res
}

// stopProxy stops tp now (instead of at cleanup) and checks Run's result.
func stopProxy(t *testing.T, tp *testProxy) {
	t.Helper()
	tp.stop()
	select {
	case err := <-tp.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		tp.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("the proxy did not stop within 30s")
	}
}

func TestStorm429EveryClientAnswered(t *testing.T) {
	if testing.Short() {
		t.Skip("the 429 storm is skipped under -short")
	}
	for _, tc := range []struct {
		name      string
		realClock bool
	}{
		{"instant waits", false},
		{"real waits (10-40ms backoff)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			baseHeap := heapInUse()
			ignore := goleak.IgnoreCurrent()
			up := &always429{}
			srv := httptest.NewServer(up)
			var opts []proxyOpt
			if tc.realClock {
				opts = append(opts, func(o *Options) { o.Clock = throttle.RealClock{} })
			}
			tp := startProxy(t, stormConfig, srv, opts...)
			res := storm(t, tp, stormClients)
			if res.statuses[429] != stormClients || len(res.statuses) != 1 {
				t.Errorf("answers %v, want %d x 429", res.statuses, stormClients)
			}
			if res.attempts["4"] != stormClients {
				t.Errorf("attempts per answer %v, want all 4", res.attempts)
			}
			if h := up.hits.Load(); h != 4*stormClients {
				t.Errorf("upstream saw %d requests, want exactly %d", h, 4*stormClients)
			}
			stopProxy(t, tp)
			srv.Close()
			goleak.VerifyNone(t, ignore)
			endHeap := heapInUse()
			t.Logf("FIGURE storm429 %q: %d clients, %d upstream requests, wall %s, process CPU %s (%.0f%% of one core), heap base %.1f MiB peak %.1f MiB after %.1f MiB",
				tc.name, stormClients, up.hits.Load(), res.wall.Round(time.Millisecond), res.cpu.Round(time.Millisecond),
				100*float64(res.cpu)/float64(res.wall), mib(baseHeap), mib(res.heapPeak), mib(endHeap))
			if endHeap > baseHeap+8<<20 {
				t.Errorf("heap did not return near baseline: %.1f MiB before, %.1f MiB after", mib(baseHeap), mib(endHeap))
			}
		})
	}
}

func TestStormCookieGateEveryClientGetsThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("the 429 storm is skipped under -short")
	}
	baseHeap := heapInUse()
	ignore := goleak.IgnoreCurrent()
	gate := &cfgate.Gate{AnyUserAgent: true, Value: func(n int64) string {
		return testOutput.secret(fmt.Sprintf("%s-cookie-%d", secretMarker, n))
	}}
	srv := httptest.NewServer(gate)
	tp := startProxy(t, stormConfig, srv)
	res := storm(t, tp, stormClients)
	if res.statuses[200] != stormClients || len(res.statuses) != 1 {
		t.Errorf("answers %v, want %d x 200", res.statuses, stormClients)
	}
	if p := gate.Passed.Load(); p != stormClients {
		t.Errorf("gate let %d through, want %d", p, stormClients)
	}
	stopProxy(t, tp)
	srv.Close()
	goleak.VerifyNone(t, ignore)
	endHeap := heapInUse()
	t.Logf("FIGURE stormGate: %d clients all 200, %d upstream requests, %d cookies issued, attempts %v, wall %s, CPU %s, heap base %.1f MiB peak %.1f MiB after %.1f MiB",
		stormClients, gate.Attempts.Load(), gate.Issued.Load(), res.attempts, res.wall.Round(time.Millisecond), res.cpu.Round(time.Millisecond),
		mib(baseHeap), mib(res.heapPeak), mib(endHeap))
	if endHeap > baseHeap+8<<20 {
		t.Errorf("heap did not return near baseline: %.1f MiB before, %.1f MiB after", mib(baseHeap), mib(endHeap))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
