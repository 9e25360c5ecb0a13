package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/config"
)

// openStreamsN is how many streams BenchmarkOpenStreams holds open at once.
const openStreamsN = 200

// holdUpstream answers every request with an event stream: one event at
// once, then nothing until release is closed (or the client leaves), then
// two more. Like build/bench's /hold route, it keeps streams open and idle,
// the state of an agent waiting for a long model answer.
type holdUpstream struct {
	mu      sync.Mutex
	release chan struct{}
}

func (h *holdUpstream) hold() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release == nil {
		h.release = make(chan struct{})
	}
	return h.release
}

func (h *holdUpstream) releaseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release != nil {
		close(h.release)
		h.release = nil
	}
}

func (h *holdUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	release := h.hold()
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	const ev = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":\"hello\"}}\n\n"
	fmt.Fprintf(w, ev, 0)
	_ = rc.Flush()
	select {
	case <-release:
	case <-r.Context().Done():
		return
	}
	for i := 1; i < 3; i++ {
		fmt.Fprintf(w, ev, i)
		_ = rc.Flush()
	}
}

// openFigures is what holding n streams open added to the process.
type openFigures struct {
	Goroutines float64 // per stream
	Stack      float64 // bytes of goroutine stacks per stream (StackInuse, before a GC shrinks them)
	Heap       float64 // bytes of live heap per stream (HeapAlloc after a GC)
	RSS        float64 // bytes of resident memory per stream (VmRSS; 0 where /proc is missing)
	Errors     int     // streams that failed (the stock proxy cuts some: golang/go#40747)
	FirstError string  `json:",omitempty"`
}

// holdStreams opens n streams to url at once, waits until each delivered its
// first event, reads the process's goroutines, stacks and heap against the
// figures before, then releases the streams and checks each delivered all
// three events (failures are counted in Errors).
func holdStreams(up *holdUpstream, url string, n int, body []byte, dump string) openFigures {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	before := memNow()

	var opened, finished sync.WaitGroup
	opened.Add(n)
	finished.Add(n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			defer finished.Done()
			first := false
			defer func() {
				if !first {
					opened.Done()
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			events := 0
			for sc.Scan() {
				if !strings.HasPrefix(sc.Text(), "data: ") {
					continue
				}
				events++
				if events == 1 {
					first = true
					opened.Done()
				}
			}
			if events != 3 {
				errs <- fmt.Errorf("stream %d: %d events, want 3 (%v)", i, events, sc.Err())
			}
		}()
	}
	opened.Wait()
	during := memNow()
	if dump != "" {
		if f, err := os.Create(dump); err == nil {
			_ = pprof.Lookup("goroutine").WriteTo(f, 2)
			f.Close()
		}
		if f, err := os.Create(strings.TrimSuffix(dump, ".txt") + ".heap"); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	up.releaseAll()
	finished.Wait()
	close(errs)
	per := func(a, b float64) float64 { return (b - a) / float64(n) }
	f := openFigures{
		Goroutines: per(before.goroutines, during.goroutines),
		Stack:      per(before.stack, during.stack),
		Heap:       per(before.heap, during.heap),
		RSS:        per(before.rss, during.rss),
	}
	for err := range errs {
		if f.Errors == 0 {
			f.FirstError = err.Error()
		}
		f.Errors++
	}
	return f
}

type memSnapshot struct{ goroutines, stack, heap, rss float64 }

// memNow reads the stacks before a GC (a GC shrinks them, the peak RSS a
// user sees does not), then the live heap after one.
func memNow() memSnapshot {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := memSnapshot{goroutines: float64(runtime.NumGoroutine()), stack: float64(m.StackInuse)}
	runtime.GC()
	runtime.ReadMemStats(&m)
	s.heap = float64(m.HeapAlloc)
	s.rss = vmRSS()
	return s
}

// vmRSS is the process's resident memory in bytes from /proc/self/status,
// 0 where there is none.
func vmRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0
			}
			return float64(kb) * 1024
		}
	}
	return 0
}

// openStreamsChildEnv makes the test binary a child of BenchmarkOpenStreams:
// "TARGET N BODYBYTES [DUMPFILE]" (see openStreamsChild).
const openStreamsChildEnv = "CLEARWAY_OPENSTREAMS_CHILD"

func init() {
	if v := os.Getenv(openStreamsChildEnv); v != "" {
		os.Exit(openStreamsChild(v))
	}
}

// openStreamsChild runs in a fresh process (so no stack or heap left over by
// earlier work hides what the streams cost): it starts the upstream and the
// target (direct: none; stock; clearway), holds n streams open, and prints
// the figures as JSON on standard output. It returns the exit code.
func openStreamsChild(spec string) int {
	fields := strings.Fields(spec)
	if len(fields) < 3 {
		fmt.Fprintln(os.Stderr, "bad", openStreamsChildEnv, spec)
		return 2
	}
	n, err := strconv.Atoi(fields[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "bad stream count in", openStreamsChildEnv, spec)
		return 2
	}
	dump := ""
	size, err := strconv.Atoi(fields[2])
	if err != nil || size < 0 {
		fmt.Fprintln(os.Stderr, "bad body size in", openStreamsChildEnv, spec)
		return 2
	}
	if len(fields) > 3 {
		dump = fields[3]
		runtime.MemProfileRate = 64 // every object, nearly, in the heap profile
	}
	up := &holdUpstream{}
	upSrv := httptest.NewServer(up)
	defer upSrv.Close()
	url := upSrv.URL + "/base/v1/messages"
	switch fields[0] {
	case "direct":
	case "stock":
		stock, err := startStock(upSrv.URL)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stock.Close()
		url = stock.URL + "/base/v1/messages"
	case "clearway":
		base, stop, err := startClearway(upSrv.URL)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
		url = base + "/api/v1/messages"
	default:
		fmt.Fprintln(os.Stderr, "unknown target", fields[0])
		return 2
	}
	fig := holdStreams(up, url, n, requestBody(size), dump)
	if err := json.NewEncoder(os.Stdout).Encode(fig); err != nil {
		return 1
	}
	return 0
}

// startStock runs net/http/httputil.ReverseProxy set up as build/bench's
// stockproxy (Rewrite with SetURL, immediate flushing, many idle conns).
func startStock(upstream string) (*httptest.Server, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 0
	transport.MaxIdleConnsPerHost = 2048
	return httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		FlushInterval: -1,
		Transport:     transport,
	}), nil
}

// startClearway runs this package's Server with its defaults for one
// upstream "api" (as retryConfig), logging at info level to nowhere.
func startClearway(upstream string) (base string, stop func(), err error) {
	cfg, err := config.Parse([]byte(strings.ReplaceAll(retryConfig, "%UPSTREAM%", upstream)), "bench.yaml")
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv, err := New(Options{Config: cfg, Listener: ln, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "bench"})
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	return "http://" + ln.Addr().String(), func() { cancel(); <-done }, nil
}

// requestBody is a streaming Messages request of about size bytes (its
// "model" first, as SDKs send it, then the conversation).
func requestBody(size int) []byte {
	b := []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"`)
	for len(b) < size-4 {
		b = append(b, 'x')
	}
	return append(b, `"}]}`...)
}

// BenchmarkOpenStreams holds openStreamsN SSE streams open at once through a
// proxy and reports what each open stream costs the proxy: goroutines,
// goroutine stack bytes, live heap bytes and resident memory per stream.
// Each measurement runs in a fresh child process (this test binary again)
// with the client, the proxy and the upstream on loopback; the same streams
// sent directly to the upstream are measured the same way and taken away,
// so what is left is the proxy's. "stock" is net/http/httputil.ReverseProxy
// set up as build/bench's stockproxy; "clearway" is this package's Server
// with its defaults (usage meter, live log, breaker, idle-stream timer).
// Figures only: nothing is asserted on them. CLEARWAY_BENCH_GOROUTINES=DIR
// writes a goroutine dump (debug=2, TARGET.txt) and a heap profile
// (TARGET.heap) of each target while its streams are open.
func BenchmarkOpenStreams(b *testing.B) {
	dumpDir := os.Getenv("CLEARWAY_BENCH_GOROUTINES")
	run := func(target string, body int) openFigures {
		spec := target + " " + strconv.Itoa(openStreamsN) + " " + strconv.Itoa(body)
		if dumpDir != "" {
			spec += " " + filepath.Join(dumpDir, fmt.Sprintf("%s-%dKiB.txt", target, body>>10))
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), openStreamsChildEnv+"="+spec)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%s: %v", target, err)
		}
		var f openFigures
		if err := json.Unmarshal(out, &f); err != nil {
			b.Fatalf("%s: %v in %q", target, err, out)
		}
		if f.Errors > 0 && target != "stock" {
			b.Fatalf("%s: %d streams failed, first: %s", target, f.Errors, f.FirstError)
		}
		return f
	}
	// 1 KiB: a short request; 128 KiB: an agent's request carrying its
	// conversation, which a proxy that buffers the body for its retries
	// must not keep for the whole stream.
	for _, tc := range []struct {
		target string
		body   int
	}{{"stock", 1 << 10}, {"clearway", 1 << 10}, {"stock", 128 << 10}, {"clearway", 128 << 10}} {
		target := tc.target
		b.Run(fmt.Sprintf("%s/body=%dKiB", target, tc.body>>10), func(b *testing.B) {
			var sum openFigures
			errors := 0
			for range b.N {
				direct, via := run("direct", tc.body), run(target, tc.body)
				errors += via.Errors
				sum.Goroutines += via.Goroutines - direct.Goroutines
				sum.Stack += via.Stack - direct.Stack
				sum.Heap += via.Heap - direct.Heap
				sum.RSS += via.RSS - direct.RSS
			}
			n := float64(b.N)
			b.ReportMetric(sum.Goroutines/n, "goroutines/stream")
			b.ReportMetric(sum.Stack/n, "stack-B/stream")
			b.ReportMetric(sum.Heap/n, "heap-B/stream")
			b.ReportMetric(sum.RSS/n, "rss-B/stream")
			if errors > 0 {
				b.ReportMetric(float64(errors)/n, "failed-streams/op")
			}
		})
	}
}
