package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRedirectIsPassedAndItsCookieKept: an upstream's redirect goes to the
// client as it is (clearway follows none, so a key never goes where the
// upstream points), its Set-Cookie stays in the session's jar (not sent to
// the client), and the next attempt carries that cookie next to the client's
// own headers, as with an http.Client and a jar.
func TestRedirectIsPassedAndItsCookieKept(t *testing.T) {
	var mu sync.Mutex
	var cookies, agents []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cookies = append(cookies, r.Header.Get("Cookie"))
		agents = append(agents, r.Header.Get("X-Client-Thing"))
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/moved") {
			http.SetCookie(w, &http.Cookie{Name: "__cf_bm", Value: "abc", Path: "/"})
			w.Header().Set("Location", "https://elsewhere.example/")
			w.WriteHeader(http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	tp := startProxy(t, retryConfig, up)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, tp.base+"/api/moved", strings.NewReader("{}"))
	req.Header.Set("X-Client-Thing", "one")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://elsewhere.example/" {
		t.Fatalf("redirect answered %d, Location %q; want 302 passed through", resp.StatusCode, resp.Header.Get("Location"))
	}
	if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("the upstream's Set-Cookie reached the client: %q", sc)
	}
	resp = tp.do(t, http.MethodPost, "/api/next", strings.NewReader("{}"), http.Header{"X-Client-Thing": {"two"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second request answered %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cookies) != 2 {
		t.Fatalf("the upstream saw %d requests, want 2 (a redirect must not be followed)", len(cookies))
	}
	if cookies[0] != "" || cookies[1] != "__cf_bm=abc" {
		t.Errorf("Cookie headers sent: %q, want none then the jar's __cf_bm", cookies)
	}
	if agents[0] != "one" || agents[1] != "two" {
		t.Errorf("client headers sent: %q, want each request's own", agents)
	}
}

// TestTransportErrorIsWrappedAsByAClient: a transport error comes back as
// http.Client.Do would return it (*url.Error, Op "Post"), so the answer's
// text names the operation and the cause, never the URL.
func TestTransportErrorIsWrappedAsByAClient(t *testing.T) {
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close() // nothing listens there any more
	cfg := strings.Replace(retryConfig, "max_retries: 3", "max_retries: 0", 1)
	tp := startProxy(t, strings.ReplaceAll(cfg, "%UPSTREAM%", dead), nil)
	resp := tp.do(t, http.MethodPost, "/api/x?key=s3cret", strings.NewReader("{}"), nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", resp.StatusCode, b)
	}
	if !strings.Contains(string(b), "connection refused") {
		t.Errorf("answer does not name the cause: %s", b)
	}
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("answer shows the URL's query: %s", b)
	}
}

// writeCountingTransports gives each upstream a transport whose connections count
// their Write calls.
type writeCountingTransports struct{ writes *atomic.Int64 }

func (c writeCountingTransports) Transport(string, *url.URL) (http.RoundTripper, error) {
	d := &net.Dialer{}
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &writeCountingConn{Conn: conn, writes: c.writes}, nil
	}}, nil
}

type writeCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *writeCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestSmallRequestGoesInOneWrite: a request with a small body reaches the
// upstream in one write (headers and body together). A body reader net/http
// does not know to be in memory makes the transport flush the headers
// first: a second system call and TCP segment on every request.
func TestSmallRequestGoesInOneWrite(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "{}")
	}))
	defer up.Close()
	var writes atomic.Int64
	tp := startProxy(t, retryConfig, up, func(o *Options) { o.Transports = writeCountingTransports{&writes} })
	body := `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"` + strings.Repeat("x", 400) + `"}]}`
	resp := tp.do(t, http.MethodPost, "/api/v1/messages", strings.NewReader(body), nil)
	if got := readAll(t, resp); resp.StatusCode != http.StatusOK || got != "{}" {
		t.Fatalf("answer %d %q", resp.StatusCode, got)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("the request went to the upstream in %d writes, want 1", n)
	}
}
