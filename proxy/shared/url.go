package shared

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/clearway/clearway/proxy/config"
)

// KeyNames returns the keychain entries a Redis URL refers to with ${key:NAME}.
func KeyNames(rawURL string) []string {
	return config.RefNames(rawURL, "key")
}

// ExpandURL returns rawURL with a password of the form ${key:NAME} replaced
// by lookup(NAME). The error names the key, never its value.
func ExpandURL(rawURL string, lookup func(name string) (string, error)) (string, error) {
	names := KeyNames(rawURL)
	if len(names) == 0 {
		return rawURL, nil
	}
	u, err := url.Parse(maskKeys(rawURL))
	if err != nil || u.User == nil || len(names) > 1 {
		return "", errors.New("shared.redis: ${key:NAME} can only stand for the whole password, as in rediss://:${key:redis}@host:6379/0")
	}
	if pw, _ := u.User.Password(); pw != "x" {
		return "", errors.New("shared.redis: ${key:NAME} can only stand for the whole password, as in rediss://:${key:redis}@host:6379/0")
	}
	secret, err := lookup(names[0])
	if err != nil {
		return "", fmt.Errorf("shared.redis: key %q: %w", names[0], err)
	}
	u.User = url.UserPassword(u.User.Username(), secret)
	return u.String(), nil
}

// CheckURL reports whether rawURL is a redis:// or rediss:// URL with a host;
// ${key:NAME} references may stand for the password.
func CheckURL(rawURL string) error {
	u, err := url.Parse(maskKeys(rawURL))
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("scheme %q is not redis:// or rediss://", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return errors.New("no query or fragment allowed")
	}
	return nil
}

// Redact returns rawURL with its password replaced by "xxxxx", for logs and
// status output.
func Redact(rawURL string) string {
	u, err := url.Parse(maskKeys(rawURL))
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// tlsConfig is the TLS setup of a rediss:// URL: the host's name checked
// against roots (nil: the system roots, which honour SSL_CERT_FILE).
func tlsConfig(host string, roots *x509.CertPool) *tls.Config {
	return &tls.Config{ServerName: strings.Trim(host, "[]"), RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// maskKeys replaces each ${key:NAME} in rawURL by "x", so it parses as a URL.
func maskKeys(rawURL string) string {
	return config.Expand(rawURL, "key", func(string) string { return "x" })
}
