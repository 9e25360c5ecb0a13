//go:build unix

// Package redistest starts a real redis-server (the Debian package) for tests:
// on a free loopback port, with a password, optionally speaking TLS, in a
// private folder, stopped when the test ends. A missing redis-server fails
// the test under CI=true and skips it loudly otherwise.
package redistest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
)

// Options say how to start the server. The zero value is a plain-TCP server
// with a random password.
type Options struct {
	TLS bool // serve TLS only (rediss://), with a fresh self-signed certificate
}

// Server is a running redis-server. Its methods are safe for concurrent use.
type Server struct {
	t        testing.TB
	bin      string
	dir      string
	port     int
	password string
	tls      bool
	caFile   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *os.File
	done chan struct{} // closed once cmd has exited
}

// Start starts redis-server for t and stops it when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	paths := desktoptest.Require(t, "redis-server")
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	s := &Server{t: t, bin: paths["redis-server"], dir: t.TempDir(), password: hex.EncodeToString(b), tls: opts.TLS}
	if opts.TLS {
		s.writeCert()
	}
	var err error
	for range 5 { // a free port can be taken between finding and binding it
		s.port = freePort(t)
		if err = s.start(); err == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

// Addr is the server's host:port on 127.0.0.1.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Password is the server's requirepass.
func (s *Server) Password() string { return s.password }

// CAFile is the PEM file of the certificate a TLS server presents ("" without TLS).
func (s *Server) CAFile() string { return s.caFile }

// URL is redis://:PASSWORD@ADDR/0 (rediss:// with TLS).
func (s *Server) URL() string { return s.URLWithPassword(s.password) }

// URLWithPassword is URL with another password (for wrong-password tests).
func (s *Server) URLWithPassword(pw string) string {
	scheme := "redis"
	if s.tls {
		scheme = "rediss"
	}
	return scheme + "://:" + pw + "@" + s.Addr() + "/0"
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. Killing a
// stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
	if s.out != nil {
		_ = s.out.Close()
		s.out = nil
	}
}

// Restart starts a killed server again on the same port with the same
// password (and an empty data set).
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) { // the port may linger a moment after the kill
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart: %v", err)
}

// start runs redis-server on s.port and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := []string{
		"--bind", "127.0.0.1", "--requirepass", s.password,
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice",
	}
	if s.tls {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", filepath.Join(s.dir, "cert.pem"), "--tls-key-file", filepath.Join(s.dir, "key.pem"),
			"--tls-ca-cert-file", s.caFile, "--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(s.port))
	}
	logPath := filepath.Join(s.dir, "redis.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ready(logPath) {
			if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
				c.Close()
				s.cmd, s.out, s.done = cmd, out, done
				return nil
			}
		}
		exited := false
		select {
		case <-done:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			out.Close()
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("redis-server on port %d did not start: %s", s.port, lastLines(string(b), 5))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ready reports whether the log says the server accepts connections (the
// last start in the file, since restarts append).
func ready(logPath string) bool {
	f, err := os.Open(logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	last := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "Server initialized"), strings.Contains(line, "oO0OoO0OoO0Oo"):
			last = false
		case strings.Contains(line, "Ready to accept connections"):
			last = true
		}
	}
	return last
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// (cert.pem, key.pem; the certificate is its own CA).
func (s *Server) writeCert() {
	s.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "redistest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		s.t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		s.t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	s.caFile = filepath.Join(s.dir, "cert.pem")
	if err := os.WriteFile(s.caFile, certPEM, 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// Freeze stops the server's process (SIGSTOP): it keeps its port and
// connections but answers nothing, like a Redis too slow to matter. Thaw
// resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}
