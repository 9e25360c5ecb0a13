package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// proxyVar reads a proxy variable as net/http does (upper case first).
func proxyVar(o *Options, k string) string {
	if v := o.getenv(k); v != "" {
		return v
	}
	return o.getenv(strings.ToLower(k))
}

// proxyFunc is the proxy the upstream sessions use: http.ProxyFromEnvironment
// unless Options.Proxy replaces it.
func proxyFunc(o *Options) func(*url.URL) (*url.URL, error) {
	if o.Proxy != nil {
		return o.Proxy
	}
	return func(u *url.URL) (*url.URL, error) { return http.ProxyFromEnvironment(&http.Request{URL: u}) }
}

// redactURL hides a password in a proxy URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// checkProxyEnv: HTTPS_PROXY, HTTP_PROXY, NO_PROXY, SSL_CERT_FILE and
// SSL_CERT_DIR, and which upstreams go through a proxy.
func checkProxyEnv(_ context.Context, o *Options) []Result {
	r := Result{Name: "proxy-env", Status: OK}
	var parts, fails, fixes []string
	anyProxy := false
	for _, name := range []string{"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"} {
		if v := proxyVar(o, name); v != "" {
			parts = append(parts, name+"="+redactURL(v))
			anyProxy = anyProxy || name != "NO_PROXY"
		}
	}
	if v := o.getenv("ALL_PROXY") + o.getenv("all_proxy"); v != "" {
		fails = append(fails, "ALL_PROXY is set, but clearway (Go) ignores it")
		fixes = append(fixes, "set HTTPS_PROXY to the same proxy")
	}
	if o.Config != nil && (anyProxy || o.Proxy != nil) {
		pf := proxyFunc(o)
		var via []string
		for _, u := range o.Config.Upstreams {
			p, err := pf(u.URL)
			switch {
			case err != nil:
				r.Status = Fail
				fails = append(fails, "the proxy URL is invalid: "+err.Error())
				fixes = append(fixes, "fix HTTPS_PROXY (e.g. http://proxy.example:3128)")
			case p != nil:
				via = append(via, u.Name)
			}
		}
		if len(via) > 0 {
			parts = append(parts, "through the proxy: "+strings.Join(via, ", "))
		} else {
			parts = append(parts, "no upstream goes through the proxy (NO_PROXY)")
		}
	}
	for _, v := range []string{"SSL_CERT_FILE", "SSL_CERT_DIR"} {
		val := o.getenv(v)
		if val == "" {
			continue
		}
		if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
			if r.Status == OK {
				r.Status = Warn
			}
			fails = append(fails, v+" is set, but clearway uses the system certificate store here and ignores it")
			fixes = append(fixes, "import the CA into the system store (Windows: certutil -addstore Root CA.cer; macOS: Keychain Access), then unset "+v)
			continue
		}
		if msg := checkCertPath(v, val); msg != "" {
			r.Status = Fail
			fails = append(fails, msg)
			fixes = append(fixes, "point "+v+" at a readable PEM bundle, or unset it to use the system roots")
		} else {
			parts = append(parts, v+"="+val)
		}
	}
	if len(parts) == 0 && len(fails) == 0 {
		r.Detail = "no proxy or certificate variables: upstreams are reached directly and verified with the system roots"
		return []Result{r}
	}
	if len(fails) > 0 && r.Status == OK {
		r.Status = Warn
	}
	r.Detail = strings.Join(append(fails, parts...), "; ")
	r.Fix = strings.Join(fixes, "; ")
	return []Result{r}
}

// checkCertPath returns "" when SSL_CERT_FILE (a PEM file) or SSL_CERT_DIR
// (folders, colon-separated) is usable, else what is wrong.
func checkCertPath(name, val string) string {
	if name == "SSL_CERT_DIR" {
		for _, d := range splitCertDirs(val) {
			if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
				return fmt.Sprintf("%s=%s: %s is not a readable folder", name, val, d)
			}
		}
		return ""
	}
	b, err := os.ReadFile(val)
	if err != nil {
		return fmt.Sprintf("%s: %v", name, err)
	}
	if blk, _ := pem.Decode(b); blk == nil {
		return fmt.Sprintf("%s=%s holds no PEM certificate", name, val)
	}
	return ""
}

// splitCertDirs splits SSL_CERT_DIR as Go's crypto/x509 does (on ':').
func splitCertDirs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkUpstreams: each upstream's DNS, TCP and TLS (issuer, expiry), at the
// same time, each bounded by Options.Timeout.
func checkUpstreams(ctx context.Context, o *Options) []Result {
	if o.Config == nil {
		return nil
	}
	pf := proxyFunc(o)
	out := make([]Result, len(o.Config.Upstreams))
	var wg sync.WaitGroup
	for i, u := range o.Config.Upstreams {
		wg.Go(func() {
			c, cancel := context.WithTimeout(ctx, o.timeout())
			defer cancel()
			proxyURL, _ := pf(u.URL)
			out[i] = probeUpstream(c, o, u.URL, proxyURL)
			out[i].Name = "upstream:" + u.Name
		})
	}
	wg.Wait()
	return out
}

// probeUpstream resolves, connects (directly or through an HTTP proxy's
// CONNECT) and, for https, shakes hands and reads the certificate.
func probeUpstream(ctx context.Context, o *Options, target, proxyURL *url.URL) Result {
	host := target.Hostname()
	port := target.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[target.Scheme]
	}
	hostPort := net.JoinHostPort(host, port)
	netFix := "check the network and the upstream's URL in " + configFile(o) + " (behind a proxy: set HTTPS_PROXY)"
	fail := func(detail, fix string) Result {
		// The connection's own deadline (the context's) may fire a moment
		// before the context says so.
		if dl, ok := ctx.Deadline(); errors.Is(ctx.Err(), context.DeadlineExceeded) || (ok && !time.Now().Before(dl)) {
			detail += fmt.Sprintf(" (gave up after %v)", o.timeout())
		}
		return Result{Status: Fail, Detail: detail, Fix: fix}
	}
	dialHost, via := host, ""
	dialPort := port
	if proxyURL != nil {
		dialHost, dialPort = proxyURL.Hostname(), proxyURL.Port()
		if dialPort == "" {
			dialPort = map[string]string{"https": "443", "http": "80"}[proxyURL.Scheme]
		}
		via = " through proxy " + redactURL(proxyURL.String())
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, dialHost)
	if err != nil {
		return fail("DNS: "+shortNetErr(err), "check the host name and your DNS ("+dialHost+")")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(dialHost, dialPort))
	if err != nil {
		return fail(fmt.Sprintf("TCP %s%s (DNS: %s): %s", net.JoinHostPort(dialHost, dialPort), via, strings.Join(addrs, ", "), shortNetErr(err)), netFix)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	remote := conn.RemoteAddr().String()
	if proxyURL != nil {
		if err := connectThrough(conn, proxyURL, hostPort); err != nil {
			return fail("proxy CONNECT to "+hostPort+via+": "+err.Error(), "check HTTPS_PROXY and that the proxy allows "+hostPort)
		}
	}
	if target.Scheme != "https" {
		return Result{Status: OK, Detail: fmt.Sprintf("%s reachable%s (%s); plain http, no TLS", hostPort, via, remote)}
	}
	tc := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: o.Roots, NextProtos: []string{"h2", "http/1.1"}})
	if err := tc.HandshakeContext(ctx); err != nil {
		fix := "if a company proxy or antivirus re-signs TLS, point SSL_CERT_FILE at its CA certificate; otherwise check the URL"
		var unk x509.UnknownAuthorityError
		if !errors.As(err, &unk) && !strings.Contains(err.Error(), "certificate") {
			fix = netFix
		}
		return fail(fmt.Sprintf("TLS with %s%s: %s", hostPort, via, shortNetErr(err)), fix)
	}
	st := tc.ConnectionState()
	leaf := st.PeerCertificates[0]
	left := leaf.NotAfter.Sub(o.now())
	detail := fmt.Sprintf("%s reachable%s (%s), %s, certificate issued by %q, expires %s (in %s)",
		hostPort, via, remote, tls.VersionName(st.Version), issuerName(leaf), leaf.NotAfter.UTC().Format("2006-01-02"), days(left))
	if left < 7*24*time.Hour {
		return Result{Status: Warn, Detail: detail, Fix: "the upstream's certificate expires soon; nothing to do on your side unless it is a local test server"}
	}
	return Result{Status: OK, Detail: detail}
}

// connectThrough asks an HTTP proxy for a tunnel to hostPort over conn.
func connectThrough(conn net.Conn, proxyURL *url.URL, hostPort string) error {
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: hostPort}, Host: hostPort, Header: http.Header{}}
	if u := proxyURL.User; u != nil {
		pw, _ := u.Password()
		req.SetBasicAuth(u.Username(), pw)
		req.Header.Set("Proxy-Authorization", req.Header.Get("Authorization"))
		req.Header.Del("Authorization")
	}
	if err := req.Write(conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufioReader(conn), req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the proxy answered %s", resp.Status)
	}
	return nil
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		if len(c.Issuer.Organization) > 0 {
			return c.Issuer.CommonName + ", " + c.Issuer.Organization[0]
		}
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}

func days(d time.Duration) string {
	if d < 0 {
		return "the past"
	}
	n := int(d.Hours() / 24)
	if n == 0 {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d %s", n, plural(n, "day", "days"))
}

// shortNetErr drops the "dial tcp ...:" style prefixes Go puts before the
// reason, keeping e.g. "connection refused" or "no such host".
func shortNetErr(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "lookup " + dnsErr.Name + ": " + dnsErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		s := opErr.Err.Error()
		if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "connect") {
			s = s[i+2:]
		}
		return s
	}
	return err.Error()
}
