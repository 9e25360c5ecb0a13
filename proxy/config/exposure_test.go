package config

import (
	"strings"
	"testing"
	"time"
)

// TestRemoteListenNeedsAllowRemoteAndToken: 0.0.0.0, ::, a LAN address are
// refused without allow_remote, and with it only when the token is on.
func TestRemoteListenNeedsAllowRemoteAndToken(t *testing.T) {
	up := "upstreams: {a: {url: https://api.example.com}}\n"
	for _, listen := range []string{"0.0.0.0:8764", "'[::]:8764'", "192.168.1.20:8764", ":8764"} {
		_, err := Parse([]byte("listen: "+listen+"\n"+up), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), "c.yaml") || !strings.Contains(err.Error(), "allow_remote") {
			t.Errorf("listen %s: err %v, want a refusal naming the file and allow_remote", listen, err)
		}
		_, err = Parse([]byte("listen: "+listen+"\nallow_remote: true\nclient_token: false\n"+up), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), "client_token: true") {
			t.Errorf("listen %s, allow_remote without token: err %v", listen, err)
		}
		c, err := Parse([]byte("listen: "+listen+"\nallow_remote: true\n"+up), "c.yaml")
		if err != nil || !c.AllowRemote {
			t.Errorf("listen %s with allow_remote and the token: %v", listen, err)
		}
	}
	for _, listen := range []string{"127.0.0.1:0", "'[::1]:9'", "localhost:8764", "127.0.0.2:1"} {
		if _, err := Parse([]byte("listen: "+listen+"\n"+up), "c.yaml"); err != nil {
			t.Errorf("loopback listen %s refused: %v", listen, err)
		}
	}
}

// TestUpstreamMetadataAndPlainHTTP: link-local and metadata targets are
// refused; a key over plain http to another machine needs allow_insecure_http.
func TestUpstreamMetadataAndPlainHTTP(t *testing.T) {
	for _, u := range []string{"http://169.254.169.254/latest", "https://169.254.10.1", "http://[fe80::1]:80", "http://metadata.google.internal/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/"} {
		_, err := Parse([]byte("upstreams: {m: {url: '"+u+"'}}\n"), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), "upstreams.m.url") {
			t.Errorf("%s: err %v, want refused naming upstreams.m.url", u, err)
		}
	}
	_, err := Parse([]byte("upstreams: {p: {url: 'http://api.example.com', key: k}}\n"), "c.yaml")
	if err == nil || !strings.Contains(err.Error(), "allow_insecure_http") {
		t.Errorf("key over plain http: err %v", err)
	}
	_, err = Parse([]byte("upstreams: {p: {url: 'http://api.example.com', headers: {x: '${key:k}'}}}\n"), "c.yaml")
	if err == nil {
		t.Error("a ${key:} header over plain http was accepted")
	}
	for _, ok := range []string{
		"upstreams: {p: {url: 'http://api.example.com', key: k, allow_insecure_http: true}}",
		"upstreams: {p: {url: 'http://127.0.0.1:9', key: k}}",
		"upstreams: {p: {url: 'http://localhost:9', key: k}}",
		"upstreams: {p: {url: 'http://api.example.com'}}", // no key: nothing to steal
	} {
		if _, err := Parse([]byte(ok+"\n"), "c.yaml"); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestMaxConnectionsAndRequestBody(t *testing.T) {
	c := Default()
	if c.MaxConnections != DefaultMaxConnections || c.Timeouts.RequestBody != DefaultRequestBody {
		t.Errorf("defaults: max_connections %d request_body %s", c.MaxConnections, c.Timeouts.RequestBody)
	}
	c, err := Parse([]byte("max_connections: 3\ntimeouts: {request_body: 2s}\n"), "c.yaml")
	if err != nil || c.MaxConnections != 3 || c.Timeouts.RequestBody != 2*time.Second {
		t.Fatalf("got %v %+v", err, c)
	}
	if _, err := Parse([]byte("max_connections: -1\n"), "c.yaml"); err == nil || !strings.Contains(err.Error(), "max_connections") {
		t.Errorf("negative max_connections: %v", err)
	}
}
