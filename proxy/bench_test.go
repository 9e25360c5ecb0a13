package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
