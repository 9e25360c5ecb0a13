package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCCRRewriteReachesTheMockRoute checks the claude-code-router plumbing
// without the router: the load generator's rewrite carries path and query in
// the body, and the mock upstream's /ccr route serves what they name.
func TestCCRRewriteReachesTheMockRoute(t *testing.T) {
	up := httptest.NewServer(newMockUpstream())
	defer up.Close()
	// Stand-in for the router: forwards every /v1/messages body to /ccr.
	router := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages" || r.Method != http.MethodPost {
			http.Error(w, "router wants POST /v1/messages, got "+r.Method+" "+r.URL.String(), http.StatusNotFound)
			return
		}
		resp, err := http.Post(up.URL+"/ccr", "application/json", r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			_, _ = w.Write(buf[:n])
			w.(http.Flusher).Flush()
			if err != nil {
				return
			}
		}
	}))
	defer router.Close()
	in := &instance{baseURL: router.URL + ccrPrefix, wrap: func(rt http.RoundTripper) http.RoundTripper { return ccrTransport{next: rt} }}
	client := in.client(1)
	errs := &errorLog{}
	res := runRealistic(t.Context(), client, in.baseURL, requestBody(256), 1, 2, 0, time.Millisecond, errs)
	if errs.count != 0 || res.streams != 1 || res.eventsGot != realEvents(2) {
		t.Fatalf("realistic through the rewrite: %d streams, %d events, errors %v", res.streams, res.eventsGot, errs.samples)
	}
	resp, err := client.Get(in.baseURL + "/json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(b) != jsonBodySize {
		t.Fatalf("json through the rewrite: %s, %d bytes, %v", resp.Status, len(b), err)
	}
}

func TestBenchPath(t *testing.T) {
	for _, body := range []string{"", "{}", `{"model":"m"}`} {
		got, ok := benchPath(ccrBody("/sse?n=3&gap=1ms", []byte(body)))
		if !ok || got != "/sse?n=3&gap=1ms" {
			t.Errorf("body %q: bench_path %q %v", body, got, ok)
		}
	}
	if _, ok := benchPath([]byte(`{"model":"m"}`)); ok {
		t.Error("found a bench_path in a body without one")
	}
	if b := string(ccrBody("/json", []byte(`{"a":1}`))); !strings.HasPrefix(b, `{"bench_path":"/json",`) {
		t.Errorf("ccrBody: %s", b)
	}
}
