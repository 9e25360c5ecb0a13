package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds every request of the load generator, so a stuck
// proxy shows up as errors instead of a hung harness.
const requestTimeout = 30 * time.Second

// newLoadClient returns an HTTP/1.1 client keeping up to conns connections
// per host alive, asking for no compression.
func newLoadClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}}
}

// errorLog counts errors and keeps the first few messages. Safe for concurrent use.
type errorLog struct {
	mu      sync.Mutex
	count   int
	samples []string
}

// add counts one error and keeps its message if fewer than 5 are kept.
func (e *errorLog) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	if len(e.samples) < 5 {
		e.samples = append(e.samples, fmt.Sprintf(format, args...))
	}
}

// requestBody returns a JSON request body of about size bytes, shaped like a
// small chat request.
func requestBody(size int) []byte {
	head := `{"model":"bench-model","max_tokens":256,"messages":[{"role":"user","content":"`
	tail := `"}]}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("z", pad) + tail)
}

// jsonResult is what one non-streaming run measured.
type jsonResult struct {
	requests  int
	elapsed   time.Duration
	latencies []time.Duration
}

// runJSON runs conc workers that POST body to url and read the 1 KB answer,
// back to back, until duration has passed. A status other than 200 or a body
// of the wrong length is an error.
func runJSON(ctx context.Context, client *http.Client, url string, body []byte, conc int, duration time.Duration, errs *errorLog) jsonResult {
	start := time.Now()
	end := start.Add(duration)
	lat := make([][]time.Duration, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := make([]byte, 4096)
			mine := make([]time.Duration, 0, 4096)
			for ctx.Err() == nil && time.Now().Before(end) {
				t0 := time.Now()
				ok := doJSON(ctx, client, url, body, buf, errs)
				if ok {
					mine = append(mine, time.Since(t0))
				}
			}
			lat[w] = mine
		}(w)
	}
	wg.Wait()
	res := jsonResult{elapsed: time.Since(start)}
	for _, l := range lat {
		res.latencies = append(res.latencies, l...)
	}
	res.requests = len(res.latencies)
	return res
}

// doJSON performs one request and checks the answer.
func doJSON(ctx context.Context, client *http.Client, url string, body, buf []byte, errs *errorLog) bool {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		errs.add("new request: %v", err)
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", "bench-client-key")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil || ctx.Err() == context.DeadlineExceeded {
			errs.add("request: %v", err)
		}
		return false
	}
	n, err := readAll(resp.Body, buf)
	resp.Body.Close()
	switch {
	case err != nil:
		errs.add("read body: %v", err)
		return false
	case resp.StatusCode != http.StatusOK:
		errs.add("status %s", resp.Status)
		return false
	case n != jsonBodySize:
		errs.add("body %d bytes, want %d", n, jsonBodySize)
		return false
	}
	return true
}

// readAll reads r to the end through buf and returns the byte count.
func readAll(r io.Reader, buf []byte) (int, error) {
	total := 0
	for {
		n, err := r.Read(buf)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
