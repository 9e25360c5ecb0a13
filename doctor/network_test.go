package doctor

import (
	"bufio"
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connectProxy is a minimal HTTP CONNECT proxy on loopback; with refuse it
// answers 403. It counts the tunnels it opened.
func connectProxy(t *testing.T, refuse bool) (*url.URL, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var tunnels atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				if refuse {
					io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
					return
				}
				up, err := net.Dial("tcp", req.Host)
				if err != nil {
					io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
					return
				}
				defer up.Close()
				tunnels.Add(1)
				io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, &tunnels
}

func TestUpstreamThroughAProxy(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer up.Close()
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	target, _ := url.Parse(up.URL)

	proxyURL, tunnels := connectProxy(t, false)
	o := &Options{Roots: roots, Timeout: 5 * time.Second}
	r := probeUpstream(context.Background(), o, target, proxyURL)
	if r.Status != OK || !strings.Contains(r.Detail, "through proxy "+proxyURL.String()) || !strings.Contains(r.Detail, "Acme Co") {
		t.Errorf("through a proxy: %+v", r)
	}
	if tunnels.Load() != 1 {
		t.Errorf("%d tunnels, want 1", tunnels.Load())
	}

	refusing, _ := connectProxy(t, true)
	r = probeUpstream(context.Background(), o, target, refusing)
	if r.Status != Fail || !strings.Contains(r.Detail, "403") || !strings.Contains(r.Fix, "HTTPS_PROXY") {
		t.Errorf("refusing proxy: %+v", r)
	}

	// Without the test CA the handshake fails and the fix names SSL_CERT_FILE.
	r = probeUpstream(context.Background(), &Options{Roots: x509.NewCertPool(), Timeout: 5 * time.Second}, target, nil)
	if r.Status != Fail || !strings.Contains(r.Detail, "TLS") || !strings.Contains(r.Fix, "SSL_CERT_FILE") {
		t.Errorf("untrusted certificate: %+v", r)
	}
}

func TestUpstreamTimeoutIsBounded(t *testing.T) {
	// A listener that never answers the TLS handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn // kept open, silent, until the test ends
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	accepted := make(chan net.Conn, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	target, _ := url.Parse("https://" + ln.Addr().String())
	o := &Options{Timeout: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout())
	defer cancel()
	r := probeUpstream(ctx, o, target, nil)
	select {
	case c := <-accepted:
		held = append(held, c)
	default:
	}
	if r.Status != Fail || !strings.Contains(r.Detail, "gave up after 200ms") {
		t.Errorf("silent upstream: %+v", r)
	}
}
