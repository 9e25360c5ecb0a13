package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/ledger"
)

// BenchmarkNonStreaming measures one small JSON request/answer through the
// proxy over loopback (client -> proxy -> upstream), the path every
// non-streaming API call takes. Figures only: nothing is asserted on time.
func BenchmarkNonStreaming(b *testing.B) {
	body := strings.Repeat("x", 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"content":"`+body+`"}`)
	}))
	defer up.Close()
	tp := startProxy(b, retryConfig, up)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := tp.base + "/api/v1/messages"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", strings.NewReader(`{"model":"m","max_tokens":1}`))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkStreaming measures an SSE answer of 50 events through the proxy;
// every event must arrive (counted) or the benchmark fails.
func BenchmarkStreaming(b *testing.B) {
	const events = 50
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range events {
			fmt.Fprintf(w, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"text\":\"hello world\"}}\n\n", i)
			_ = rc.Flush()
		}
	}))
	defer up.Close()
	tp := startProxy(b, retryConfig, up)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := tp.base + "/api/v1/messages"
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", strings.NewReader(`{"stream":true}`))
			if err != nil {
				b.Error(err)
				return
			}
			n := 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					n++
				}
			}
			resp.Body.Close()
			if n != events {
				b.Errorf("got %d events, want %d", n, events)
				return
			}
		}
	})
	b.ReportMetric(float64(events), "events/op")
}

// BenchmarkLedgerOnOff measures the process's CPU time per request (user +
// system, from getrusage: client, proxy, upstream and the ledger's writer
// all run in this process) for an Anthropic answer with usage, with the
// usage ledger off and on. The difference is what recording costs a
// request: reading the usage from the answer, the record, the metrics, the
// queue and the batched SQLite insert. Sequential requests, so the figure
// is CPU, not contention. Run with -benchtime=20000x for stable figures.
func BenchmarkLedgerOnOff(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("usage", "testdata", "anthropic.sse"))
	if err != nil {
		b.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(body)
	}))
	defer up.Close()
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			var opts []proxyOpt
			var l *ledger.Ledger
			if on {
				var err error
				l, err = ledger.Open(ledger.Options{Path: filepath.Join(b.TempDir(), "usage.db"), QueueSize: 1 << 16})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				opts = append(opts, withLedger(l))
			}
			tp := startProxy(b, retryConfig, up, opts...)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			url := tp.base + "/api/v1/messages"
			send := func() {
				resp, err := client.Post(url, "application/json", strings.NewReader(`{"model":"m","stream":true}`))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			for range 50 {
				send() // warm connections and the statement cache
			}
			if l != nil {
				l.Flush()
			}
			before := cpuTime()
			b.ResetTimer()
			for range b.N {
				send()
			}
			if l != nil {
				l.Flush()
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-before).Microseconds())/float64(b.N), "cpu-µs/req")
			if l != nil && l.Stats().Dropped > 0 {
				b.Fatalf("dropped %d rows", l.Stats().Dropped)
			}
		})
	}
}

// BenchmarkFirstEvent measures the time from sending a streaming request to
// reading its first complete event, through clearway and through the stock
// httputil.ReverseProxy (startStock), client, proxy and upstream in one
// process, one request at a time. The upstream writes its headers and first
// event at once, then ends the stream. ttfe-p50-µs is the median time to the
// first event (the median: this machine's noise lands on the mean); run with -cpu 1 to see the proxies on one P, as build/bench's split
// layout runs them. Figures only: nothing is asserted on time.
func BenchmarkFirstEvent(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n")
		_ = http.NewResponseController(w).Flush()
	}))
	defer up.Close()
	stock, err := startStock(up.URL + "/base")
	if err != nil {
		b.Fatal(err)
	}
	defer stock.Close()
	cw, stop, err := startClearway(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	for _, target := range []struct{ name, url string }{
		{"clearway", cw + "/api/v1/messages"},
		{"stock", stock.URL + "/v1/messages"},
	} {
		b.Run(target.name, func(b *testing.B) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			defer client.CloseIdleConnections()
			body := []byte(`{"model":"m","stream":true,"max_tokens":1}`)
			var took []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				resp, err := client.Post(target.url, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReader(resp.Body)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						b.Fatalf("no complete event: %v", err)
					}
					if line == "\n" {
						break
					}
				}
				took = append(took, time.Since(start))
				_, _ = io.Copy(io.Discard, br)
				resp.Body.Close()
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2])/float64(time.Microsecond), "ttfe-p50-µs")
		})
	}
}
