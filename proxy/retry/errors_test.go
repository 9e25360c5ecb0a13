package retry_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/retry"
)

// listen opens a loopback listener closed when the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// serveConns runs handle for every connection ln accepts until the test ends,
// and waits for the handlers to return.
func serveConns(t *testing.T, ln net.Listener, handle func(net.Conn)) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// roundTrip sends one POST with a small body that cannot be replayed by the
// transport itself (no GetBody), as a proxy that streams a body would.
func roundTrip(t *testing.T, ctx context.Context, tr http.RoundTripper, rawURL string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, io.NopCloser(strings.NewReader(`{"model":"m"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("RoundTrip to %s succeeded with %s, want an error", rawURL, resp.Status)
	}
	if c, ok := tr.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return err
}

func checkVerdict(t *testing.T, err error, wantRetry bool, wantReasons ...string) retry.Verdict {
	t.Helper()
	v := retry.Policy{}.ClassifyError(err)
	ok := false
	for _, r := range wantReasons {
		ok = ok || v.Reason == r
	}
	if v.Retry != wantRetry || !ok {
		t.Errorf("ClassifyError(%v) = %+v, want Retry %v with a reason in %q", err, v, wantRetry, wantReasons)
	}
	return v
}

func TestClassifyErrorConnectionRefused(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	err := roundTrip(t, context.Background(), &http.Transport{}, "http://"+addr+"/v1/messages")
	checkVerdict(t, err, true, "connection refused")
	// Wrapped as http.Client wraps it, too.
	_, cerr := (&http.Client{Transport: &http.Transport{}}).Post("http://"+addr+"/", "application/json", strings.NewReader("{}"))
	var uerr *url.Error
	if !errors.As(cerr, &uerr) {
		t.Fatalf("client error %T is not a *url.Error", cerr)
	}
	checkVerdict(t, cerr, true, "connection refused")
}

func TestClassifyErrorClosedBeforeHeaders(t *testing.T) {
	t.Run("close after reading the request", func(t *testing.T) {
		ln := listen(t)
		serveConns(t, ln, func(c net.Conn) {
			// Read the whole request, then hang up without a byte of answer.
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err == nil {
				io.Copy(io.Discard, req.Body)
			}
		})
		err := roundTrip(t, context.Background(), &http.Transport{}, "http://"+ln.Addr().String()+"/")
		checkVerdict(t, err, true, "eof before response", "connection reset")
	})
	t.Run("close at once", func(t *testing.T) {
		ln := listen(t)
		serveConns(t, ln, func(net.Conn) {})
		seen := map[string]int{}
		for range 20 { // the race between write and close gives EOF, a reset, a broken pipe or a closed conn
			err := roundTrip(t, context.Background(), &http.Transport{}, "http://"+ln.Addr().String()+"/")
			v := checkVerdict(t, err, true, "eof before response", "connection reset", "broken pipe", "connection closed")
			seen[v.Reason]++
		}
		t.Logf("reasons seen: %v", seen)
	})
}

// hangingServer is a loopback upstream that reads each request and never
// answers it; the test stops it. arrived is closed when the first request is
// in.
func hangingServer(t *testing.T) (rawURL string, arrived <-chan struct{}) {
	t.Helper()
	in := make(chan struct{})
	var once sync.Once
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices a client that leaves
		once.Do(func() { close(in) })
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // runs first: frees the handlers
	return srv.URL, in
}

func TestClassifyErrorClientCanceled(t *testing.T) {
	rawURL, arrived := hangingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-arrived; cancel() }() // the client leaves before any answer
	err := roundTrip(t, ctx, &http.Transport{}, rawURL)
	v := checkVerdict(t, err, false, "client canceled")
	if !v.Canceled || v.Timeout {
		t.Errorf("verdict %+v: want Canceled and not Timeout", v)
	}
	// Canceled wins even when joined with something retryable.
	wrapped := fmt.Errorf("attempt 2: %w", errors.Join(context.Canceled, io.EOF))
	checkVerdict(t, wrapped, false, "client canceled")
}

func TestClassifyErrorResponseHeaderTimeout(t *testing.T) {
	rawURL, _ := hangingServer(t)
	tr := &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	err := roundTrip(t, context.Background(), tr, rawURL)
	v := checkVerdict(t, err, true, "timeout")
	if !v.Timeout {
		t.Errorf("verdict %+v: want Timeout", v)
	}
}

func TestClassifyErrorAttemptDeadline(t *testing.T) {
	rawURL, _ := hangingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := roundTrip(t, ctx, &http.Transport{}, rawURL)
	if v := checkVerdict(t, err, true, "timeout"); !v.Timeout {
		t.Errorf("verdict %+v: want Timeout", v)
	}
}

func TestClassifyErrorTLSHandshakeTimeout(t *testing.T) {
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) {
		io.Copy(io.Discard, c) // accepts the ClientHello and never answers
	})
	tr := &http.Transport{TLSHandshakeTimeout: 50 * time.Millisecond}
	err := roundTrip(t, context.Background(), tr, "https://"+ln.Addr().String()+"/")
	if v := checkVerdict(t, err, true, "tls handshake timeout"); !v.Timeout {
		t.Errorf("verdict %+v: want Timeout", v)
	}
}

func TestClassifyErrorUntrustedCertificate(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the request reached a server whose certificate was not trusted")
	}))
	defer srv.Close()
	err := roundTrip(t, context.Background(), &http.Transport{}, srv.URL) // no trust in the test CA
	checkVerdict(t, err, false, "tls error")
}

func TestClassifyErrorProxyRefusesConnect(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			t.Errorf("proxy got %s, want CONNECT", r.Method)
		}
		w.WriteHeader(http.StatusProxyAuthRequired)
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	err := roundTrip(t, context.Background(), tr, "https://127.0.0.1:9/v1/messages")
	checkVerdict(t, err, false, "transport error") // a refused CONNECT will be refused again
}

func TestClassifyErrorMalformedResponse(t *testing.T) {
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, "SPDY/9 what\r\n\r\n")
		}
	})
	err := roundTrip(t, context.Background(), &http.Transport{}, "http://"+ln.Addr().String()+"/")
	checkVerdict(t, err, false, "transport error")
}

// h2 frame types and codes used by the raw HTTP/2 server below (RFC 9113).
const (
	h2Data        = 0x0
	h2Headers     = 0x1
	h2RSTStream   = 0x3
	h2Settings    = 0x4
	h2GoAway      = 0x7
	h2RefusedCode = 0x7
	h2ProtoCode   = 0x1
)

func writeH2Frame(w io.Writer, typ, flags byte, stream uint32, payload []byte) error {
	var hdr [9]byte
	hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	hdr[3], hdr[4] = typ, flags
	binary.BigEndian.PutUint32(hdr[5:], stream&0x7fffffff)
	_, err := w.Write(append(hdr[:], payload...))
	return err
}

// serveRawH2 answers cleartext HTTP/2 (prior knowledge) connections: it
// settles SETTINGS and calls onRequest once the first request stream is
// complete (END_STREAM), so the client is no longer writing.
func serveRawH2(t *testing.T, ln net.Listener, onRequest func(c *net.TCPConn, stream uint32)) {
	serveConns(t, ln, func(c net.Conn) {
		preface := make([]byte, len(http2Preface))
		if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2Preface {
			return
		}
		if writeH2Frame(c, h2Settings, 0, 0, nil) != nil {
			return
		}
		var hdr [9]byte
		for {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
				return
			}
			typ, flags, stream := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff
			switch {
			case typ == h2Settings && flags&0x1 == 0:
				if writeH2Frame(c, h2Settings, 0x1, 0, nil) != nil {
					return
				}
			case (typ == h2Headers || typ == h2Data) && flags&0x1 != 0: // END_STREAM
				onRequest(c.(*net.TCPConn), stream)
				return
			}
		}
	})
}

const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func h2cTransport() *http.Transport {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &protocols}
}

func TestClassifyErrorHTTP2(t *testing.T) {
	for _, tt := range []struct {
		name       string
		onRequest  func(c *net.TCPConn, stream uint32)
		wantReason string
	}{
		{"refused stream", func(c *net.TCPConn, stream uint32) {
			writeH2Frame(c, h2RSTStream, 0, stream, binary.BigEndian.AppendUint32(nil, h2RefusedCode))
			io.Copy(io.Discard, c) // keep the connection until the client drops it
		}, "http2 refused stream"},
		{"graceful goaway before the stream", func(c *net.TCPConn, stream uint32) {
			payload := binary.BigEndian.AppendUint32(nil, 0) // last stream processed: none
			payload = binary.BigEndian.AppendUint32(payload, 0)
			writeH2Frame(c, h2GoAway, 0, 0, payload)
			io.Copy(io.Discard, c)
		}, "http2 goaway"},
		{"goaway with an error, then close", func(c *net.TCPConn, stream uint32) {
			payload := binary.BigEndian.AppendUint32(nil, stream)
			payload = binary.BigEndian.AppendUint32(payload, h2ProtoCode)
			writeH2Frame(c, h2GoAway, 0, 0, append(payload, "shutting down"...))
			c.CloseWrite()         // a clean FIN, so the client reads EOF after the GOAWAY
			io.Copy(io.Discard, c) // until the client drops the connection
		}, "http2 goaway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln := listen(t)
			serveRawH2(t, ln, tt.onRequest)
			err := roundTrip(t, context.Background(), h2cTransport(), "http://"+ln.Addr().String()+"/v1/messages")
			checkVerdict(t, err, true, tt.wantReason)
		})
	}
}

// TestClassifyErrorTable covers errors that loopback cannot produce on demand
// (DNS, routing), built as net and the resolver build them.
func TestClassifyErrorTable(t *testing.T) {
	dial := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://api.example.test/v1?key=secret", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	for _, tt := range []struct {
		name        string
		err         error
		wantRetry   bool
		wantReason  string
		wantTimeout bool
	}{
		{"nil", nil, false, "no error", false},
		{"dns temporary", dial(&net.DNSError{Err: "server misbehaving", Name: "api.example.test", IsTemporary: true}), true, "dns temporary failure", false},
		{"dns timeout", dial(&net.DNSError{Err: "i/o timeout", Name: "api.example.test", IsTimeout: true}), true, "dns temporary failure", true},
		{"dns not found", dial(&net.DNSError{Err: "no such host", Name: "api.example.test", IsNotFound: true}), false, "dns: no such host", false},
		{"dns other", dial(&net.DNSError{Err: "odd", Name: "api.example.test"}), false, "dns error", false},
		{"no route", dial(&net.OpError{Op: "connect", Err: errnoErr("EHOSTUNREACH")}), true, "no route to host", false},
		{"net unreachable", dial(errnoErr("ENETUNREACH")), true, "network unreachable", false},
		{"dial timeout", dial(timeoutErr{}), true, "dial timeout", true},
		{"other dial error", dial(errors.New("socket: too many open files")), true, "dial error", false},
		{"proxyconnect refused", &net.OpError{Op: "proxyconnect", Err: errnoErr("ECONNREFUSED")}, true, "connection refused", false},
		{"proxy refused the CONNECT", &net.OpError{Op: "proxyconnect", Net: "tcp", Err: errors.New("Proxy Authentication Required")}, false, "transport error", false},
		{"deadline exceeded", fmt.Errorf("attempt: %w", context.DeadlineExceeded), true, "timeout", true},
		{"unexpected eof", io.ErrUnexpectedEOF, true, "eof before response", false},
		{"plain error", errors.New("net/http: invalid header field"), false, "transport error", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := retry.Policy{}.ClassifyError(tt.err)
			if v.Retry != tt.wantRetry || v.Reason != tt.wantReason || v.Timeout != tt.wantTimeout || v.Canceled {
				t.Errorf("ClassifyError(%v) = %+v, want Retry %v Reason %q Timeout %v", tt.err, v, tt.wantRetry, tt.wantReason, tt.wantTimeout)
			}
			if strings.Contains(v.Reason, "secret") {
				t.Errorf("reason %q leaks the URL", v.Reason)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
