package proxy

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Load: 1,000 SSE streams held open through the proxy at the same time, every
// event delivered, in order, exactly once.

const (
	loadStreams = 1000
	loadEvents  = 50
)

// barrierSSE holds every stream until all n have reached it, so the streams
// are provably open at the same time, then sends events events on each.
type barrierSSE struct {
	n, events int
	arrived   atomic.Int64
	all       chan struct{}
	once      sync.Once
}

func (b *barrierSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	if b.arrived.Add(1) == int64(b.n) {
		b.once.Do(func() { close(b.all) })
	}
	select {
	case <-b.all:
	case <-r.Context().Done():
		return
	case <-time.After(60 * time.Second):
		return
	}
	for i := range b.events {
		if _, err := fmt.Fprintf(w, "event: content_block_delta\ndata: {\"stream\":%s,\"index\":%d,\"text\":\"the quick brown fox\"}\n\n", id, i); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// procKiB reads a "VmRSS"/"VmHWM" line of /proc/self/status in KiB (0 elsewhere).
func procKiB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func TestLoadThousandConcurrentSSEStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("the 1,000-stream load test is skipped under -short")
	}
	baseHeap := heapInUse()
	ignore := goleak.IgnoreCurrent()
	up := &barrierSSE{n: loadStreams, events: loadEvents, all: make(chan struct{})}
	srv := httptest.NewServer(up)
	// 1,000 streams held open at once: past the default max_connections (512).
	tp := startProxy(t, strings.Replace(retryConfig, "client_token: false", "client_token: false\nmax_connections: 1100", 1), srv)

	tr := &http.Transport{MaxIdleConnsPerHost: loadStreams, DisableCompression: true}
	client := &http.Client{Transport: tr}
	var (
		wg        sync.WaitGroup
		delivered atomic.Int64
		failed    atomic.Int64
		peakIn    atomic.Int64
		peakHeap  atomic.Uint64
	)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peakHeap.Load() {
				peakHeap.Store(ms.HeapAlloc)
			}
			if n := tp.srv.inFlight.Load(); n > peakIn.Load() {
				peakIn.Store(n)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	for s := range loadStreams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(tp.base + "/api/v1/messages?id=" + strconv.Itoa(s))
			if err != nil {
				failed.Add(1)
				t.Errorf("stream %d: %v", s, err)
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			next := 0
			prefix := fmt.Sprintf(`data: {"stream":%d,"index":`, s)
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "data: ") {
					continue
				}
				want := prefix + strconv.Itoa(next) + `,`
				if !strings.HasPrefix(line, want) {
					failed.Add(1)
					t.Errorf("stream %d: event %d is %q", s, next, line)
					return
				}
				next++
			}
			if err := sc.Err(); err != nil || next != loadEvents {
				failed.Add(1)
				t.Errorf("stream %d: %d events, err %v; want %d and a clean end", s, next, err, loadEvents)
			}
			delivered.Add(int64(next))
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	<-sampled
	if got, want := delivered.Load(), int64(loadStreams*loadEvents); got != want || failed.Load() != 0 {
		t.Fatalf("delivered %d events (%d streams failed), want exactly %d", got, failed.Load(), want)
	}
	if up.arrived.Load() != loadStreams {
		t.Fatalf("upstream saw %d streams, want %d", up.arrived.Load(), loadStreams)
	}
	tr.CloseIdleConnections()
	stopProxy(t, tp)
	srv.Close()
	goleak.VerifyNone(t, ignore)
	t.Logf("FIGURE load: %d concurrent SSE streams x %d events = %d events in order in %s (%.0f events/s incl. setup), peak in-flight %d, heap base %.1f MiB peak %.1f MiB after %.1f MiB, process RSS now %.1f MiB, peak RSS %.1f MiB (whole test process)",
		loadStreams, loadEvents, delivered.Load(), wall.Round(time.Millisecond), float64(delivered.Load())/wall.Seconds(), peakIn.Load(),
		mib(baseHeap), mib(peakHeap.Load()), mib(heapInUse()), float64(procKiB("VmRSS"))/1024, float64(procKiB("VmHWM"))/1024)
}
