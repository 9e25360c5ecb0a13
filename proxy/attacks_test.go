package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Attacks, table-driven, over raw TCP so every byte is exactly as an attacker
// would send it. Each case must be refused (the expected status) and must not
// reach an upstream it should not reach.

const attackToken = secretMarker + "-token-0123456789abcdef"

const attackConfig = `
listen: 127.0.0.1:0
client_token: true
retry: {max_retries: 0}
upstreams:
  api:
    url: %API%/base
  other:
    url: %OTHER%/base
`

// pathRecorder records the paths an upstream was asked for.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
}

func (p *pathRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.paths = append(p.paths, r.URL.EscapedPath())
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (p *pathRecorder) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := p.paths
	p.paths = nil
	return got
}

type attack struct {
	name string
	raw  string // the request; {HOST} is the proxy's host:port, {TOKEN} the valid token
	want []int  // acceptable statuses of the first answer
	// reachAPI: how many requests may reach the "api" upstream (0 for every
	// refusal; smuggling allows the one outer request). "other" may never be reached.
	reachAPI int
}

func req(method, path, host string, headers ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\n")
	if host != "" {
		b.WriteString("Host: " + host + "\r\n")
	}
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	return b.String()
}

func attackTable() []attack {
	const tok = "X-Api-Key: {TOKEN}"
	const host = "{HOST}"
	smuggled := "GET /other/smuggled HTTP/1.1\r\nHost: {HOST}\r\n\r\n"
	sentinel := "GET /_clearway/health HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
	a := []attack{
		// DNS rebinding: a page on an attacker's name that now resolves to 127.0.0.1.
		{"rebinding: attacker name", req("GET", "/api/v1/models", "evil.example", tok), []int{403}, 0},
		{"rebinding: attacker name with our port", req("GET", "/api/v1/models", "evil.example:{PORT}", tok), []int{403}, 0},
		{"rebinding: localhost.evil.test", req("GET", "/api/v1/models", "localhost.evil.test:{PORT}", tok), []int{403}, 0},
		{"rebinding: 127.0.0.1.evil.test", req("GET", "/api/v1/models", "127.0.0.1.evil.test", tok), []int{403}, 0},
		{"rebinding: decimal 2130706433", req("GET", "/api/v1/models", "2130706433:{PORT}", tok), []int{403}, 0},
		{"rebinding: hex 0x7f.0.0.1", req("GET", "/api/v1/models", "0x7f.0.0.1:{PORT}", tok), []int{403}, 0},
		{"rebinding: hex 0x7f000001", req("GET", "/api/v1/models", "0x7f000001", tok), []int{403}, 0},
		{"rebinding: octal 017700000001", req("GET", "/api/v1/models", "017700000001:{PORT}", tok), []int{403}, 0},
		{"rebinding: octal 0177.0.0.1", req("GET", "/api/v1/models", "0177.0.0.1", tok), []int{403}, 0},
		{"rebinding: short 127.1", req("GET", "/api/v1/models", "127.1:{PORT}", tok), []int{403}, 0},
		{"rebinding: IPv4-mapped [::ffff:127.0.0.1]", req("GET", "/api/v1/models", "[::ffff:127.0.0.1]:{PORT}", tok), []int{403}, 0},
		{"rebinding: IPv4-mapped hex [::ffff:7f00:1]", req("GET", "/api/v1/models", "[::ffff:7f00:1]:{PORT}", tok), []int{403}, 0},
		{"rebinding: [0:0:0:0:0:0:0:1] long form", req("GET", "/api/v1/models", "[0:0:0:0:0:0:0:1]:{PORT}", tok), []int{403}, 0},
		{"rebinding: 0.0.0.0", req("GET", "/api/v1/models", "0.0.0.0:{PORT}", tok), []int{403}, 0},
		{"rebinding: other port", req("GET", "/api/v1/models", "127.0.0.1:1", tok), []int{403}, 0},
		{"rebinding: userinfo evil@127.0.0.1", req("GET", "/api/v1/models", "evil@127.0.0.1:{PORT}", tok), []int{400, 403}, 0},
		{"rebinding: absolute URI to a foreign host", req("GET", "http://evil.example/api/v1/models", host, tok), []int{403}, 0},
		{"rebinding: missing Host (HTTP/1.1)", req("GET", "/api/v1/models", "", tok), []int{400, 403}, 0},
		{"rebinding: missing Host (HTTP/1.0)", "GET /api/v1/models HTTP/1.0\r\nX-Api-Key: {TOKEN}\r\n\r\n", []int{403}, 0},
		{"rebinding: empty Host", "GET /api/v1/models HTTP/1.1\r\nHost: \r\nX-Api-Key: {TOKEN}\r\nConnection: close\r\n\r\n", []int{400, 403}, 0},

		// Cross-origin browser requests, even with a valid token.
		{"cross-origin: Origin evil", req("POST", "/api/v1/messages", host, tok, "Origin: https://evil.example", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Origin null", req("POST", "/api/v1/messages", host, tok, "Origin: null", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Origin localhost.evil.test", req("POST", "/api/v1/messages", host, tok, "Origin: http://localhost.evil.test:{PORT}", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Origin other local port", req("POST", "/api/v1/messages", host, tok, "Origin: http://127.0.0.1:1", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Origin file scheme", req("POST", "/api/v1/messages", host, tok, "Origin: file://", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Referer evil", req("POST", "/api/v1/messages", host, tok, "Referer: https://evil.example/page", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Sec-Fetch-Site cross-site", req("POST", "/api/v1/messages", host, tok, "Sec-Fetch-Site: cross-site", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Sec-Fetch-Site same-site", req("POST", "/api/v1/messages", host, tok, "Sec-Fetch-Site: same-site", "Content-Length: 0"), []int{403}, 0},
		{"cross-origin: Sec-Fetch-Site cross-site, local Origin forged", req("POST", "/api/v1/messages", host, tok, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example", "Content-Length: 0"), []int{403}, 0},

		// Client token.
		{"token: missing", req("GET", "/api/v1/models", host), []int{401}, 0},
		{"token: wrong", req("GET", "/api/v1/models", host, "X-Api-Key: wrong"), []int{401}, 0},
		{"token: equal length, first byte wrong", req("GET", "/api/v1/models", host, "X-Api-Key: X"+attackToken[1:]), []int{401}, 0},
		{"token: equal length, last byte wrong", req("GET", "/api/v1/models", host, "X-Api-Key: "+attackToken[:len(attackToken)-1]+"X"), []int{401}, 0},
		{"token: prefix", req("GET", "/api/v1/models", host, "X-Api-Key: "+attackToken[:len(attackToken)-1]), []int{401}, 0},
		{"token: with suffix", req("GET", "/api/v1/models", host, "X-Api-Key: {TOKEN}x"), []int{401}, 0},
		{"token: upper-cased", req("GET", "/api/v1/models", host, "X-Api-Key: "+strings.ToUpper(attackToken)), []int{401}, 0},
		{"token: Basic auth", req("GET", "/api/v1/models", host, "Authorization: Basic {TOKEN}"), []int{401}, 0},
		{"token: Bearer without value", req("GET", "/api/v1/models", host, "Authorization: Bearer "), []int{401}, 0},
		{"token: in the query string", req("GET", "/api/v1/models?key={TOKEN}&api_key={TOKEN}", host), []int{401}, 0},
		{"token: in a cookie", req("GET", "/api/v1/models", host, "Cookie: token={TOKEN}"), []int{401}, 0},

		// Request smuggling: the upstream must see at most the one outer request
		// and never the smuggled one.
		{"smuggling: CL.TE", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled + sentinel, []int{400, 200}, 1},
		{"smuggling: TE.CL", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5c\r\n" + smuggled + "\r\n0\r\n\r\n" + sentinel, []int{400, 200}, 1},
		{"smuggling: two different Content-Lengths", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nContent-Length: 0\r\nContent-Length: 49\r\n\r\n" + smuggled + sentinel, []int{400}, 0},
		{"smuggling: Content-Length list", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nContent-Length: 0, 49\r\n\r\n" + smuggled + sentinel, []int{400}, 0},
		{"smuggling: TE chunked with garbage", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n" + smuggled + sentinel, []int{400}, 0},
		{"smuggling: TE xchunked", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nTransfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n" + smuggled + sentinel, []int{400, 501}, 0},
		{"smuggling: TE chunked, identity", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + smuggled + sentinel, []int{400, 501}, 0},
		{"smuggling: TE with space before colon", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nTransfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n" + smuggled + sentinel, []int{400}, 0},
		{"smuggling: bare LF line endings", "POST /api/first HTTP/1.1\nHost: {HOST}\nX-Api-Key: {TOKEN}\nContent-Length: 0\nTransfer-Encoding: chunked\n\n0\n\n" + smuggled + sentinel, []int{400, 200}, 1},
		{"smuggling: header folding", "POST /api/first HTTP/1.1\r\nHost: {HOST}\r\nX-Api-Key: {TOKEN}\r\nContent-Length: 0\r\n Transfer-Encoding: chunked\r\n\r\n" + smuggled + sentinel, []int{400}, 0},

		// Path tricks that would climb to another upstream or to /_clearway/.
		{"path: /../ to another upstream", req("GET", "/api/../other/x", host, tok), []int{400}, 0},
		{"path: %2e%2e", req("GET", "/api/%2e%2e/other/x", host, tok), []int{400}, 0},
		{"path: %2E%2E%2F", req("GET", "/api/%2E%2E%2Fother/x", host, tok), []int{400}, 0},
		{"path: ..%2F", req("GET", "/api/..%2Fother/x", host, tok), []int{400}, 0},
		{"path: .%2e", req("GET", "/api/.%2e/other/x", host, tok), []int{400}, 0},
		{"path: backslash", req("GET", "/api/..\\other/x", host, tok), []int{400}, 0},
		{"path: encoded backslash", req("GET", "/api/..%5Cother/x", host, tok), []int{400}, 0},
		{"path: encoded slash in the upstream name", req("GET", "/api%2F..%2Fother/x", host, tok), []int{400, 404}, 0},
		{"path: encoded upstream name", req("GET", "/%6Fther/x", host, tok), []int{400, 404}, 0},
		{"path: /./", req("GET", "/api/./x", host, tok), []int{400}, 0},
		{"path: to /_clearway/ via ..", req("GET", "/api/../_clearway/status", host), []int{400}, 0},
		{"path: to /_clearway/ via %2e%2e", req("GET", "/api/%2e%2e/_clearway/status", host), []int{400}, 0},
		{"path: encoded _clearway", req("GET", "/%5Fclearway/status", host), []int{400, 404}, 0},
		{"path: upper-case _CLEARWAY", req("GET", "/_CLEARWAY/status", host), []int{404}, 0},
		{"path: empty upstream //", req("GET", "//other/x", host, tok), []int{404}, 0},

		// The proxy's own endpoints need the token (health is open).
		{"admin: status without token", req("GET", "/_clearway/status", host), []int{401}, 0},
		{"admin: status with wrong token", req("GET", "/_clearway/status", host, "Authorization: Bearer wrong"), []int{401}, 0},
		{"admin: cookie values without token", req("GET", "/_clearway/cookies?values=1", host), []int{401}, 0},
		{"admin: cookies export without token", req("GET", "/_clearway/cookies/export", host), []int{401}, 0},
		{"admin: cookies clear without token", req("POST", "/_clearway/cookies/clear", host, "Content-Length: 0"), []int{401}, 0},
		{"admin: cookies import without token", req("POST", "/_clearway/cookies/import", host, "Content-Length: 0"), []int{401}, 0},
		{"admin: keys reload without token", req("POST", "/_clearway/keys/reload", host, "Content-Length: 0"), []int{401}, 0},
		{"admin: status from a cross-site page with token", req("GET", "/_clearway/status", host, tok, "Origin: https://evil.example"), []int{403}, 0},
		{"admin: status via rebinding with token", req("GET", "/_clearway/status", "evil.example", tok), []int{403}, 0},
	}
	return a
}

func TestAttacksAreRefused(t *testing.T) {
	api, other := &pathRecorder{}, &pathRecorder{}
	apiSrv, otherSrv := httptest.NewServer(api), httptest.NewServer(other)
	defer apiSrv.Close()
	defer otherSrv.Close()
	cfg := strings.NewReplacer("%API%", apiSrv.URL, "%OTHER%", otherSrv.URL).Replace(attackConfig)
	tp := startProxy(t, cfg, nil, func(o *Options) { o.Token = attackToken })
	host := hostOf(tp.base)
	port := host[strings.LastIndex(host, ":")+1:]
	fill := strings.NewReplacer("{HOST}", host, "{PORT}", port, "{TOKEN}", attackToken).Replace

	// The control: the same proxy lets a proper request through.
	got, _ := rawExchange(t, host, fill(req("GET", "/api/v1/models", "{HOST}", "X-Api-Key: {TOKEN}")))
	if !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("a proper request was refused: %q", firstLine(got))
	}
	if p := api.take(); len(p) != 1 || p[0] != "/base/v1/models" {
		t.Fatalf("control request reached api as %v", p)
	}

	refused := 0
	cases := attackTable()
	for _, tc := range cases {
		ok := t.Run(tc.name, func(t *testing.T) {
			resp, err := rawExchange(t, host, fill(tc.raw))
			status := 0
			if len(resp) >= 12 && strings.HasPrefix(resp, "HTTP/1.") {
				for _, c := range resp[9:12] {
					status = status*10 + int(c-'0')
				}
			}
			okStatus := false
			for _, w := range tc.want {
				okStatus = okStatus || status == w
			}
			if !okStatus {
				t.Errorf("answer %q (err %v), want one of %v", firstLine(resp), err, tc.want)
			}
			if strings.Contains(resp, attackToken) {
				t.Error("the answer contains the client token")
			}
			if strings.Contains(resp, `"upstreams"`) || strings.Contains(resp, "# Netscape") {
				t.Error("the answer carries admin data")
			}
			apiPaths, otherPaths := api.take(), other.take()
			if len(otherPaths) != 0 {
				t.Errorf("reached the other upstream: %v", otherPaths)
			}
			if len(apiPaths) > tc.reachAPI {
				t.Errorf("reached the api upstream %d times (%v), at most %d allowed", len(apiPaths), apiPaths, tc.reachAPI)
			}
			for _, p := range apiPaths {
				if p != "/base/first" {
					t.Errorf("api upstream was asked for %q", p)
				}
			}
			if status == 200 && tc.reachAPI == 1 && len(apiPaths) != 1 {
				t.Errorf("answered 200 but the upstream saw %d requests", len(apiPaths))
			}
			if t.Failed() {
				t.Logf("full answer:\n%s", resp)
			} else {
				t.Logf("%s; api upstream saw %v", firstLine(resp), apiPaths)
			}
		})
		if ok {
			refused++
		}
	}
	t.Logf("FIGURE attacks: %d of %d attacks refused", refused, len(cases))
	if refused != len(cases) {
		t.Errorf("%d of %d attacks got through", len(cases)-refused, len(cases))
	}
}

// BenchmarkTokenCompare compares the time to refuse a token wrong in its
// first byte with one wrong in its last byte (and the right one): with
// subtle.ConstantTimeCompare they cost the same, so the answer time says
// nothing about how much of a guess was right.
func BenchmarkTokenCompare(b *testing.B) {
	g := newGuard("127.0.0.1:0", nil, nil, attackToken)
	for _, bc := range []struct{ name, tok string }{
		{"right", attackToken},
		{"first byte wrong", "X" + attackToken[1:]},
		{"last byte wrong", attackToken[:len(attackToken)-1] + "X"},
		{"all wrong", strings.Repeat("X", len(attackToken))},
	} {
		h := http.Header{"X-Api-Key": {bc.tok}}
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_ = g.tokenOK(h)
			}
		})
	}
}
