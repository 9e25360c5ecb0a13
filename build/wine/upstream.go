//go:build linux

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// upstream is a local TLS API that answers 200 only when the request carries
// the expected key in x-api-key.
type upstream struct {
	url     string
	caDER   []byte
	srv     *http.Server
	n       atomic.Int32
	keyOK   atomic.Bool
	stopped chan struct{}
}

// startUpstream listens on 127.0.0.1 with a certificate for "localhost" signed
// by a fresh CA. (Wine's SSL policy does not match IP addresses in
// certificates, so the URL uses the name.)
func startUpstream(key string) (*upstream, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "clearway Wine test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{caDER: caDER, stopped: make(chan struct{}),
		url: fmt.Sprintf("https://localhost:%d", ln.Addr().(*net.TCPAddr).Port)}
	u.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.n.Add(1)
			if r.Header.Get("x-api-key") != key {
				http.Error(w, `{"error":"wrong key"}`, http.StatusUnauthorized)
				return
			}
			u.keyOK.Store(true)
			w.Header().Set("content-type", "application/json")
			fmt.Fprint(w, `{"id":"msg_wine","type":"message","content":[]}`)
		}),
		ErrorLog:  log.New(io.Discard, "", 0), // the doctor's probe hangs up after the handshake
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}}},
	}
	go func() { _ = u.srv.ServeTLS(ln, "", ""); close(u.stopped) }()
	return u, nil
}

func (u *upstream) requests() int { return int(u.n.Load()) }
func (u *upstream) sawKey() bool  { return u.keyOK.Load() }
func (u *upstream) close()        { _ = u.srv.Close(); <-u.stopped }

// trust adds the upstream's CA to the current user's Root store in the Wine
// prefix (HKCU\Software\Microsoft\SystemCertificates\Root\Certificates\<SHA-1>,
// value Blob: the serialized certificate, property 32 = the DER), which is
// where Windows' certificate chain engine, and so Go on Windows, finds roots.
func (r *runner) trust(u *upstream) error {
	sum := sha1.Sum(u.caDER)
	blob := make([]byte, 12, 12+len(u.caDER))
	binary.LittleEndian.PutUint32(blob[0:], 32) // CERT_CERT_PROP_ID
	binary.LittleEndian.PutUint32(blob[4:], 1)
	binary.LittleEndian.PutUint32(blob[8:], uint32(len(u.caDER)))
	blob = append(blob, u.caDER...)
	key := `HKCU\Software\Microsoft\SystemCertificates\Root\Certificates\` + strings.ToUpper(hex.EncodeToString(sum[:]))
	out, err := runTimeout(stepTimeout, "wine", "reg", "add", key, "/v", "Blob", "/t", "REG_BINARY", "/d", hex.EncodeToString(blob), "/f")
	if err != nil {
		return fmt.Errorf("wine reg add (the test CA): %w: %s", err, out)
	}
	return nil
}
