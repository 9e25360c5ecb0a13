package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/events"
)

// Fault injection: every way a loopback upstream or client can misbehave, with
// the answer the client gets and what the logs and events say.

// localLogs tees a proxy's log into the package sink (for the secrets sweep)
// and into a buffer the test can read.
type localLogs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *localLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	return testOutput.Write(p)
}

func (l *localLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// withLogs returns an option sending the proxy's log to a buffer the test reads.
func withLogs() (proxyOpt, *localLogs) {
	l := &localLogs{}
	return func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}, l
}

// collectEvents subscribes to the proxy's bus; the returned func returns the
// kinds seen so far.
func collectEvents(t *testing.T, bus *events.Bus) func() map[events.Kind]int {
	t.Helper()
	ch, cancel := bus.Subscribe(4096)
	t.Cleanup(cancel)
	var mu sync.Mutex
	seen := map[events.Kind]int{}
	return func() map[events.Kind]int {
		mu.Lock()
		defer mu.Unlock()
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					return seen
				}
				seen[e.Kind]++
			default:
				return seen
			}
		}
	}
}

// rawUpstream is a TCP listener whose connections are handled by fn: for
// faults an http.Handler cannot produce (resets, silence before headers).
type rawUpstream struct {
	ln       net.Listener
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newRawUpstream(t *testing.T, fn func(c *net.TCPConn)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				fn(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); u.wg.Wait() })
	return u
}

func (u *rawUpstream) url() string { return "http://" + u.ln.Addr().String() }

// readRequestHead reads one request's header block from c.
func readRequestHead(c net.Conn) (*http.Request, *bufio.Reader, error) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	return req, br, err
}

// reset closes c with an RST instead of a FIN.
func reset(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}

const faultConfig = `
listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 2, initial_delay: 1s, max_delay: 30s}
timeouts: {response_header: 300ms, idle_stream: 400ms, read_header: 300ms}
upstreams:
  api:
    url: %UPSTREAM%
`

func faultYAML(url string) string { return strings.ReplaceAll(faultConfig, "%UPSTREAM%", url) }

func TestFaultConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	logOpt, logs := withLogs()
	tp := startProxy(t, faultYAML("http://"+addr), nil, logOpt)
	evs := collectEvents(t, tp.bus)
	resp := tp.do(t, "POST", "/api/v1/messages", strings.NewReader("{}"), nil)
	e := proxyError(t, readAll(t, resp))
	if resp.StatusCode != 502 || resp.Header.Get("X-Clearway-Attempts") != "3" {
		t.Fatalf("status %d after %s attempts, want 502 after 3", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"))
	}
	if !strings.Contains(e.Error.Message, addr) {
		t.Errorf("the answer does not name the upstream host: %q", e.Error.Message)
	}
	if k := evs(); k[events.Retrying] != 2 || k[events.Unreachable] != 1 {
		t.Errorf("events %v, want 2 retrying and 1 unreachable", k)
	}
	if l := logs.String(); !strings.Contains(l, "upstream unreachable") || !strings.Contains(l, "refused") {
		t.Errorf("the log does not say the upstream refused the connection:\n%s", l)
	}
	t.Logf("client got: %d %s", resp.StatusCode, e.Error.Message)
}

func TestFaultResetBeforeHeaders(t *testing.T) {
	t.Parallel()
	up := newRawUpstream(t, func(c *net.TCPConn) {
		if _, _, err := readRequestHead(c); err == nil {
			reset(c)
		}
	})
	logOpt, logs := withLogs()
	tp := startProxy(t, faultYAML(up.url()), nil, logOpt)
	evs := collectEvents(t, tp.bus)
	resp := tp.do(t, "GET", "/api/v1/models", nil, nil)
	e := proxyError(t, readAll(t, resp))
	attempts := resp.Header.Get("X-Clearway-Attempts")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d (%s), want 502", resp.StatusCode, e.Error.Message)
	}
	if got := fmt.Sprint(up.accepted.Load()); got != attempts {
		t.Errorf("upstream accepted %s connections, answer says %s attempts", got, attempts)
	}
	if k := evs(); k[events.Unreachable] != 1 {
		t.Errorf("events %v, want 1 unreachable", k)
	}
	if !strings.Contains(logs.String(), "upstream unreachable") {
		t.Errorf("no 'upstream unreachable' log line")
	}
	t.Logf("client got: %d after %s attempts: %s", resp.StatusCode, attempts, e.Error.Message)
}

// bodyResetter answers with a declared or chunked body, sends part of it and
// then resets the connection.
func bodyResetter(chunked bool) func(c *net.TCPConn) {
	return func(c *net.TCPConn) {
		if _, _, err := readRequestHead(c); err != nil {
			return
		}
		if chunked {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
			for i := range 3 {
				ev := fmt.Sprintf("data: {\"index\":%d}\n\n", i)
				fmt.Fprintf(c, "%x\r\n%s\r\n", len(ev), ev)
			}
		} else {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
			io.WriteString(c, `{"partial":"`+strings.Repeat("x", 100))
		}
		// Wait until the proxy has read what was sent (it cannot send more:
		// it has nothing to say), then reset.
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.Read(make([]byte, 1))
		reset(c)
	}
}

func TestFaultResetMidBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		chunked bool
		want    string
	}{
		{"content-length body", false, `{"partial":"xxxx`},
		{"sse stream", true, `data: {"index":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t, bodyResetter(tc.chunked))
			logOpt, logs := withLogs()
			tp := startProxy(t, faultYAML(up.url()), nil, logOpt)
			resp, err := http.Get(tp.base + "/api/x")
			if err != nil {
				// The proxy had not flushed anything yet (a buffered,
				// non-streaming body): the client sees the connection drop,
				// never a complete-looking answer.
				t.Logf("client got no answer, only: %v", err)
				waitFor(t, "the log to say the upstream failed mid-answer", 5*time.Second, func() bool {
					return strings.Contains(logs.String(), "upstream failed mid-answer")
				})
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				t.Fatalf("the client saw a clean end of a body the upstream reset (%d bytes)", len(got))
			}
			if !strings.Contains(string(got), tc.want) {
				t.Errorf("the part sent before the reset did not arrive: %q", got)
			}
			if !strings.Contains(logs.String(), "upstream failed mid-answer") {
				t.Errorf("no 'upstream failed mid-answer' log line:\n%s", logs.String())
			}
			t.Logf("client read %d bytes, then: %v", len(got), err)
		})
	}
}

// silentUpstream accepts requests and never answers until the request is
// cancelled; it counts the cancellations it saw.
type silentUpstream struct {
	entered   atomic.Int64
	cancelled atomic.Int64
	headers   bool // send 200 and an event first, then go silent
}

func (s *silentUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Read the body first: only then does net/http watch the connection and
	// cancel r.Context when the proxy hangs up.
	_, _ = io.Copy(io.Discard, r.Body)
	s.entered.Add(1)
	if s.headers {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"index\":0}\n\n")
		_ = http.NewResponseController(w).Flush()
	}
	select {
	case <-r.Context().Done():
		s.cancelled.Add(1)
	case <-time.After(30 * time.Second):
	}
}

func TestFaultUpstreamNeverAnswers(t *testing.T) {
	t.Parallel()
	s := &silentUpstream{}
	up := httptest.NewServer(s)
	defer up.Close()
	logOpt, logs := withLogs()
	tp := startProxy(t, faultConfig, up, logOpt)
	start := time.Now()
	resp := tp.do(t, "POST", "/api/v1/messages", strings.NewReader("{}"), nil)
	e := proxyError(t, readAll(t, resp))
	took := time.Since(start)
	if resp.StatusCode != 504 || e.Error.Type != errTimeout {
		t.Fatalf("status %d type %s, want 504 timeout_error", resp.StatusCode, e.Error.Type)
	}
	waitFor(t, "the upstream to see every attempt cancelled", 10*time.Second, func() bool {
		return s.cancelled.Load() == s.entered.Load() && s.entered.Load() > 0
	})
	if !strings.Contains(logs.String(), "upstream unreachable") {
		t.Error("no log line for the timeout")
	}
	t.Logf("client got %d after %s attempts in %s (response_header 300ms): %s", resp.StatusCode, resp.Header.Get("X-Clearway-Attempts"), took.Round(time.Millisecond), e.Error.Message)
}

func TestFaultIdleStreamIsCut(t *testing.T) {
	t.Parallel()
	s := &silentUpstream{headers: true}
	up := httptest.NewServer(s)
	defer up.Close()
	logOpt, logs := withLogs()
	tp := startProxy(t, faultConfig, up, logOpt)
	resp := tp.do(t, "GET", "/api/stream", nil, nil)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("a stream cut for silence ended cleanly: %q", got)
	}
	if !strings.Contains(string(got), `data: {"index":0}`) {
		t.Errorf("the event before the silence was lost: %q", got)
	}
	waitFor(t, "the upstream request to be cancelled", 10*time.Second, func() bool { return s.cancelled.Load() == 1 })
	if l := logs.String(); !strings.Contains(l, "timeouts.idle_stream") {
		t.Errorf("the log does not name idle_stream:\n%s", l)
	}
}

func TestFaultSlowButAliveStreamIsNotCut(t *testing.T) {
	t.Parallel()
	const events, gap = 8, 150 * time.Millisecond // 1.2 s in all, idle_stream 400ms
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for i := range events {
			fmt.Fprintf(w, "data: {\"index\":%d}\n\n", i)
			_ = rc.Flush()
			if i < events-1 {
				select {
				case <-tick.C:
				case <-r.Context().Done():
					return
				}
			}
		}
	}))
	defer up.Close()
	tp := startProxy(t, faultConfig, up)
	start := time.Now()
	resp := tp.do(t, "GET", "/api/stream", nil, nil)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("a slow but live stream was cut after %s: %v (%q)", time.Since(start), err, got)
	}
	if n := strings.Count(string(got), "data: "); n != events {
		t.Fatalf("%d events, want %d", n, events)
	}
	t.Logf("stream of %d events over %s (idle_stream 400ms) arrived whole", events, time.Since(start).Round(time.Millisecond))
}

// rawExchange writes payload on a fresh connection to addr and returns all it
// reads back until the proxy closes the connection (or 10 s pass).
func rawExchange(t *testing.T, addr, payload string) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(c, payload) }()
	b, err := io.ReadAll(c)
	return string(b), err
}

func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

func TestFaultSlowlorisClientIsDisconnected(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer up.Close()
	tp := startProxy(t, faultConfig, up)
	start := time.Now()
	// Half a header, then nothing: read_header (300ms) must close the connection.
	got, err := rawExchange(t, hostOf(tp.base), "GET /api/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the proxy kept a half-sent request open for 10s (read %q)", got)
	}
	if hits.Load() != 0 {
		t.Error("a half-sent request reached the upstream")
	}
	t.Logf("slowloris connection closed after %s (read_header 300ms), proxy sent %q, err %v", time.Since(start).Round(time.Millisecond), firstLine(got), err)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

func TestFaultBadRequestsNeverReachUpstream(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer up.Close()
	tp := startProxy(t, strings.Replace(faultConfig, "client_token: false", "client_token: false\nmax_body: 1KiB", 1), up)
	host := hostOf(tp.base)
	big := strings.Repeat("a", 1<<20+8192)
	cases := []struct {
		name, payload, want string
	}{
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", "HTTP/1.1 400"},
		{"no method", " /api/x HTTP/1.1\r\nHost: " + host + "\r\n\r\n", "HTTP/1.1 400"},
		{"bad version", "GET /api/x HTTP/9.9\r\nHost: " + host + "\r\n\r\n", "HTTP/1.1 505"},
		{"header without colon", "GET /api/x HTTP/1.1\r\nHost: " + host + "\r\nNoColonHere\r\n\r\n", "HTTP/1.1 400"},
		{"control char in header", "GET /api/x HTTP/1.1\r\nHost: " + host + "\r\nX-A: a\x00b\r\n\r\n", "HTTP/1.1 400"},
		{"bad chunk size", "POST /api/x HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "HTTP/1.1 400"},
		{"huge header (>1 MiB)", "GET /api/x HTTP/1.1\r\nHost: " + host + "\r\nX-Big: " + big + "\r\n\r\n", "HTTP/1.1 431"},
		{"oversized body (Content-Length)", "POST /api/x HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 65536\r\n\r\n" + strings.Repeat("b", 65536), "HTTP/1.1 413"},
		{"oversized body (chunked)", "POST /api/x HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n" + strings.Repeat("b", 65536) + "\r\n0\r\n\r\n", "HTTP/1.1 413"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rawExchange(t, host, tc.payload)
			if !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q (err %v), want %s", firstLine(got), err, tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d malformed requests reached the upstream", n)
	}
}

func TestFaultHTTP2AndHTTP1ClientsBothWork(t *testing.T) {
	t.Parallel()
	var protos sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 5 {
			fmt.Fprintf(w, "data: {\"index\":%d}\n\n", i)
			_ = rc.Flush()
		}
	}))
	defer up.Close()
	tp := startProxy(t, faultConfig, up)

	h2std := &http.Transport{Protocols: new(http.Protocols)}
	h2std.Protocols.SetUnencryptedHTTP2(true)
	h1 := &http.Transport{}
	defer h2std.CloseIdleConnections()
	defer h1.CloseIdleConnections()
	for _, tc := range []struct {
		name  string
		rt    http.RoundTripper
		major int
	}{
		{"h2c via net/http Protocols", h2std, 2},
		{"HTTP/1.1", h1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", tp.base+"/api/v1/messages", strings.NewReader(`{"stream":true}`))
			resp, err := tc.rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != 200 || resp.ProtoMajor != tc.major {
				t.Fatalf("status %d over %s, want 200 over HTTP/%d", resp.StatusCode, resp.Proto, tc.major)
			}
			if n := strings.Count(body, "data: "); n != 5 {
				t.Fatalf("%d events, want 5", n)
			}
			protos.Store(tc.name, resp.Proto)
		})
	}
}

func TestFaultClientVanishesMidStream(t *testing.T) {
	t.Parallel()
	var sent, cancelled atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: {\"index\":%d}\n\n", i); err != nil || rc.Flush() != nil {
				break
			}
			sent.Add(1)
			select {
			case <-r.Context().Done():
				cancelled.Add(1)
				return
			case <-time.After(5 * time.Millisecond): // a steady trickle
			}
		}
		cancelled.Add(1)
	}))
	defer up.Close()
	logOpt, logs := withLogs()
	tp := startProxy(t, faultConfig, up, logOpt)
	c, err := net.Dial("tcp", hostOf(tp.base))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for n := 0; n < 3 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			n++
		}
	}
	reset(c.(*net.TCPConn)) // vanish without a goodbye
	waitFor(t, "the upstream to see the cancellation", 10*time.Second, func() bool { return cancelled.Load() == 1 })
	waitFor(t, "the proxy to count the request finished", 10*time.Second, func() bool { return tp.srv.inFlight.Load() == 0 })
	waitFor(t, "a log line saying the client left", 10*time.Second, func() bool {
		return strings.Contains(logs.String(), "client left")
	})
	t.Logf("upstream sent %d events before it saw the client leave", sent.Load())
}

// TestFaultConnectTimeout makes the upstream's accept queue full, so a new
// connection attempt gets no SYN-ACK and only timeouts.connect ends it.
func TestFaultConnectTimeout(t *testing.T) {
	t.Parallel()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue (never accepted) until a dial hangs.
	var fillers []net.Conn
	defer func() {
		for _, c := range fillers {
			c.Close()
		}
	}()
	full := false
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			full = true
			break
		}
		fillers = append(fillers, c)
	}
	if !full {
		t.Skip("could not fill a loopback accept queue on this kernel; connect timeout not exercised")
	}
	tp := startProxy(t, strings.Replace(faultYAML("http://"+addr), "timeouts: {", "timeouts: {connect: 200ms, ", 1), nil)
	start := time.Now()
	resp := tp.do(t, "GET", "/api/x", nil, nil)
	e := proxyError(t, readAll(t, resp))
	if resp.StatusCode != 504 || e.Error.Type != errTimeout || resp.Header.Get("X-Clearway-Attempts") != "3" || !strings.Contains(e.Error.Message, "dial timeout") {
		t.Fatalf("status %d type %s after %s attempts (%s), want 504 timeout_error naming the dial timeout after 3", resp.StatusCode, e.Error.Type, resp.Header.Get("X-Clearway-Attempts"), e.Error.Message)
	}
	t.Logf("client got %d after %s (connect 200ms, %s attempts): %s", resp.StatusCode, time.Since(start).Round(time.Millisecond), resp.Header.Get("X-Clearway-Attempts"), e.Error.Message)
}
