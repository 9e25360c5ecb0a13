package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// IsLoopbackHost reports whether host (a name or an address, without port
// or brackets) is a loopback one: localhost, 127.0.0.0/8, ::1.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// CheckExposure re-checks the listen address after an override (--listen):
// see checkExposure. The error names c's source.
func (c *Config) CheckExposure() error {
	if err := checkExposure(c); err != nil {
		return fmt.Errorf("config %s: %w", c.Source, err)
	}
	return nil
}

// checkExposure refuses a listen address others can reach unless
// allow_remote is set, and then only with the client token on: a proxy that
// spends the user's keys for anyone on the network is never a default.
func checkExposure(c *Config) error {
	host, _, _ := net.SplitHostPort(c.Listen)
	if IsLoopbackHost(host) {
		return nil
	}
	if !c.AllowRemote {
		return fmt.Errorf("listen: %q is reachable from other machines; use 127.0.0.1 (or set allow_remote: true, with client_token: true, if you mean it)", c.Listen)
	}
	if !c.ClientToken {
		return fmt.Errorf("allow_remote: listening on %q needs client_token: true (anyone who reaches the port could otherwise spend your keys)", c.Listen)
	}
	return nil
}

// metadataHosts are cloud instance-metadata names that hand out credentials;
// an upstream never points at them.
var metadataHosts = map[string]bool{
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"metadata":                   true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
}

// metadataAddrs are cloud metadata addresses outside the link-local ranges.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS IMDS over IPv6
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
}

// checkTargetHost refuses link-local addresses (169.254.0.0/16, fe80::/10,
// where 169.254.169.254 answers with cloud credentials) and the known
// metadata names as an upstream.
func checkTargetHost(p string, u *url.URL) error {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if metadataHosts[host] {
		return fmt.Errorf("%s: %q is a cloud metadata service, never an API upstream", p, host)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || metadataAddrs[a] {
			return fmt.Errorf("%s: %s is a link-local or cloud metadata address, never an API upstream", p, host)
		}
		if a.IsUnspecified() || a.IsMulticast() {
			return fmt.Errorf("%s: %s is not an address an upstream can have", p, host)
		}
	}
	return nil
}

// errInsecure is wrapped by the plain-http refusal.
var errInsecure = errors.New("a key would travel unencrypted")

// checkPlainHTTP refuses an upstream that would get a key over plain http to
// a host other than loopback, unless it sets allow_insecure_http.
func checkPlainHTTP(p string, u Upstream) error {
	if u.URL.Scheme != "http" || u.AllowInsecureHTTP || IsLoopbackHost(u.URL.Hostname()) {
		return nil
	}
	if len(u.KeyNames()) == 0 {
		return nil
	}
	return fmt.Errorf("%s.url: %q is plain http to another machine and %w; use https, or set %s.allow_insecure_http: true", p, u.URL.String(), errInsecure, p)
}
