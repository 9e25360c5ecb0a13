package realclients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sentence is what every test upstream streams, in pieces; the clients must
// show it exactly.
const sentence = "The quick brown fox jumps over the lazy dog, through clearway."

// pieces splits sentence into the deltas streamed.
func pieces() []string {
	words := strings.SplitAfter(sentence, " ")
	return words
}

// api is a test upstream speaking the Anthropic Messages API
// (POST /v1/messages, streamed as Anthropic does) and the OpenAI Chat
// Completions API (POST /v1/chat/completions, streamed as OpenAI does). It
// counts the API requests it gets and can refuse them with the API's own
// 429. Safe for concurrent use.
type api struct {
	attempts    atomic.Int64 // API requests received
	storm       atomic.Bool  // answer every request 429 (retry-after: 1)
	rateLimited atomic.Int64 // answer the next N requests 429 (retry-after: 1)

	mu  sync.Mutex
	uas []string // User-Agent of each API request
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	var openai bool
	switch {
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/v1/messages"):
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/v1/chat/completions"):
		openai = true
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"not_found_error","message":"no such test endpoint"}}`)
		return
	}
	a.attempts.Add(1)
	a.mu.Lock()
	a.uas = append(a.uas, r.UserAgent())
	a.mu.Unlock()
	if a.storm.Load() || a.rateLimited.Add(-1) >= 0 {
		a.tooMany(w, openai)
		return
	}
	if openai {
		streamOpenAI(w)
	} else {
		streamAnthropic(w)
	}
}

// tooMany answers as the API does when a rate limit is hit.
func (a *api) tooMany(w http.ResponseWriter, openai bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", "1")
	if openai {
		h.Set("X-Ratelimit-Remaining-Requests", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached for gpt-4o on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`)
		return
	}
	h.Set("Anthropic-Ratelimit-Requests-Remaining", "0")
	h.Set("Request-Id", "req_test_429")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your per-minute rate limit"}}`)
}

// streamAnthropic streams a Messages answer with Anthropic's events:
// message_start, content_block_start, ping, content_block_delta...,
// content_block_stop, message_delta, message_stop.
func streamAnthropic(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Request-Id", "req_test_ok")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	ev := func(name string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
		f.Flush()
	}
	ev("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_test01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1},
	}})
	ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	ev("ping", map[string]any{"type": "ping"})
	for _, p := range pieces() {
		ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": p}})
	}
	ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	ev("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 14}})
	ev("message_stop", map[string]any{"type": "message_stop"})
}

// streamOpenAI streams a Chat Completions answer with OpenAI's chunks and
// the closing "data: [DONE]".
func streamOpenAI(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Request-Id", "req_test_ok")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	chunk := func(delta map[string]any, finish any) {
		b, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-test01", "object": "chat.completion.chunk", "created": 1764460800, "model": "gpt-4o-2024-08-06",
			"system_fingerprint": "fp_test", "choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
		f.Flush()
	}
	chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil)
	for _, p := range pieces() {
		chunk(map[string]any{"content": p}, nil)
	}
	chunk(map[string]any{}, "stop")
	fmt.Fprint(w, "data: [DONE]\n\n")
	f.Flush()
}

// untrustedTLS starts a TLS server for h whose certificate (self-signed,
// for 127.0.0.1) nobody trusts.
func untrustedTLS(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "untrusted test upstream"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.Config.ErrorLog = quietLog()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}
