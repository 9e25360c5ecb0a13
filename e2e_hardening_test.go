package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// peakRSS returns the VmHWM (peak resident set) of pid in bytes, from
// /proc/PID/status; 0 where /proc is missing.
func peakRSS(pid int) int64 { return procStatusKB(pid, "VmHWM:") * 1024 }

// currentRSS returns the VmRSS of pid in bytes; 0 where /proc is missing.
func currentRSS(pid int) int64 { return procStatusKB(pid, "VmRSS:") * 1024 }

func procStatusKB(pid int, key string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// TestJarFloodStaysBounded: an upstream answers ten times with 100 cookies
// of 70 KB and 100 of 4000 bytes (the flood that once made a 70 MB jar
// file, which the next start moved aside whole, emptying every upstream's
// jar). With the size cap and the per-upstream byte budget the file stays
// small and the other upstream's cookie is still sent after a restart.
func TestJarFloodStaysBounded(t *testing.T) {
	big := strings.Repeat("B", 70<<10)
	mid := strings.Repeat("m", 4000)
	var round atomic.Int64
	flood := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := round.Add(1)
		for i := range 100 {
			w.Header().Add("Set-Cookie", fmt.Sprintf("big%d_%d=%s; Max-Age=86400; Path=/", n, i, big))
			w.Header().Add("Set-Cookie", fmt.Sprintf("mid%d_%d=%s; Max-Age=86400; Path=/", n, i, mid))
		}
		w.WriteHeader(200)
	}))
	flood.Config.MaxHeaderBytes = 256 << 20 // it takes back whatever it sent
	flood.StartTLS()
	t.Cleanup(flood.Close)
	var goodSaw atomic.Bool
	good := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("keep"); err == nil && c.Value == "GOODVALUE" {
			goodSaw.Store(true)
		}
		http.SetCookie(w, &http.Cookie{Name: "keep", Value: "GOODVALUE", MaxAge: 86400, Path: "/"})
	}))
	t.Cleanup(good.Close)

	sb := newSandbox(t)
	// Both test servers share one certificate (httptest's built-in one).
	sb.trust(flood)
	sb.writeConfig(fmt.Sprintf(`listen: 127.0.0.1:0
client_token: false
retry: {max_retries: 0}
cookie_save_delay: 100ms
upstreams:
  flood: {url: %s}
  good: {url: %s}
`, flood.URL, good.URL))
	p := sb.serve()
	if resp, body := request(t, "GET", p.url("/good/x"), nil, ""); resp.StatusCode != 200 {
		t.Fatalf("good upstream: %d %s", resp.StatusCode, body)
	}
	for range 10 {
		if resp, body := request(t, "GET", p.url("/flood/x"), nil, ""); resp.StatusCode != 200 {
			t.Fatalf("flood upstream: %d %.200s", resp.StatusCode, body)
		}
	}
	rss := peakRSS(p.cmd.Process.Pid)
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v", err)
	}
	st, err := os.Stat(sb.cookieFile())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after 10 floods of 100 x 70 KB + 100 x 4000 B cookies: jar file %d bytes, peak RSS %d MB", st.Size(), rss>>20)
	if st.Size() > 2<<20 {
		t.Errorf("jar file is %d bytes after the flood, want under 2 MiB", st.Size())
	}
	if b, _ := os.ReadFile(sb.cookieFile()); strings.Contains(string(b), big[:4097]) {
		t.Error("a cookie over 4096 bytes was kept")
	}
	p2 := sb.serve()
	if resp, body := request(t, "GET", p2.url("/good/x"), nil, ""); resp.StatusCode != 200 {
		t.Fatalf("good upstream after restart: %d %s", resp.StatusCode, body)
	}
	if !goodSaw.Load() {
		t.Errorf("after the flood and a restart the other upstream's cookie was not sent: %s", p2.stderr.String())
	}
	if m, _ := os.ReadDir(sb.dataDir()); len(m) > 0 {
		for _, e := range m {
			if strings.Contains(e.Name(), "corrupt") {
				t.Errorf("the jar file was moved aside: %s", e.Name())
			}
		}
	}
}

// TestPartialHeadersMemoryBounded: 200 connections each send 1 MB of a
// header that never ends (the slowloris that once raised RSS from 17 MB to
// 392 MB for the 10 s header window). With MaxHeaderBytes at 64 KiB each
// gets 431 after 68 KiB and the peak RSS stays low.
func TestPartialHeadersMemoryBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to measure RSS")
	}
	sb := newSandbox(t)
	sb.writeConfig("listen: 127.0.0.1:0\nclient_token: false\nupstreams: {api: {url: 'https://127.0.0.1:9'}}\n")
	p := sb.serve()
	pid := p.cmd.Process.Pid
	base := currentRSS(pid)
	chunk := []byte("GET /api/x HTTP/1.1\r\nHost: " + p.addr + "\r\nX-Fill: " + strings.Repeat("a", 1<<20))
	done := make(chan struct{}, 200)
	for range 200 {
		go func() {
			defer func() { done <- struct{}{} }()
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_, _ = c.Write(chunk) // the server may cut us off early: that is the point
			_, _ = io.Copy(io.Discard, c)
		}()
	}
	for range 200 {
		<-done
	}
	peak := peakRSS(pid)
	t.Logf("200 x 1 MB partial headers: RSS %d MB before, peak %d MB", base>>20, peak>>20)
	if peak-base > 128<<20 {
		t.Errorf("peak RSS grew by %d MB under 200 partial 1 MB headers, want < 128 MB", (peak-base)>>20)
	}
	if resp, _ := request(t, "GET", p.url("/_clearway/health"), nil, ""); resp.StatusCode != 200 {
		t.Errorf("health after the flood: %d", resp.StatusCode)
	}
}

// TestRefusedRequestsBarelyGrowTheLog: 20 cross-site requests, each with a
// Sec-Fetch-Site and Origin, refused without a token. The log once
// grew by the whole header per request (20 MB for 20 requests of 1 MB);
// now every client value is cut to 200 bytes and refusals of one kind are
// logged once a minute with a count.
func TestRefusedRequestsBarelyGrowTheLog(t *testing.T) {
	sb := newSandbox(t)
	sb.writeConfig("listen: 127.0.0.1:0\nclient_token: false\nupstreams: {api: {url: 'https://127.0.0.1:9'}}\n")
	p := sb.serve()
	logSize := func() int64 {
		st, err := os.Stat(sb.logFile())
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := logSize()
	big := strings.Repeat("z", 30<<10)
	const n = 20
	for range n {
		resp, _ := request(t, "POST", p.url("/api/v1/messages"), http.Header{
			"Sec-Fetch-Site": {"cross-site" + big}, "Origin": {"https://evil.test/" + big},
		}, "{}")
		if resp.StatusCode != 403 {
			t.Fatalf("cross-site request: %d, want 403", resp.StatusCode)
		}
	}
	_ = p.stop(syscall.SIGTERM)
	grown := logSize() - before
	t.Logf("log growth: %d bytes for %d refused requests with 2 x 30 KB headers (%d bytes per request)", grown, n, grown/n)
	if grown/n > 1024 {
		t.Errorf("the log grew by %d bytes per refused request, want at most 1 KiB", grown/n)
	}
	b, _ := os.ReadFile(sb.logFile())
	if strings.Contains(string(b), strings.Repeat("z", 201)) {
		t.Error("a client value longer than 200 bytes reached the log")
	}
}

// TestSymlinkedLogIsNotFollowed: clearway.log linked to a shell start-up
// file; `clearway serve` refuses to start, says why, and the file is as it
// was (before, a logged request path was appended to it).
func TestSymlinkedLogIsNotFollowed(t *testing.T) {
	sb := newSandbox(t)
	sb.writeConfig("listen: 127.0.0.1:0\nclient_token: false\nupstreams: {api: {url: 'https://127.0.0.1:9'}}\n")
	rc := filepath.Join(sb.home, ".bashrc")
	if err := os.WriteFile(rc, []byte("# my rc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(sb.logFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rc, sb.logFile()); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := sb.run("", "serve", "--config", sb.config, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "symbolic link") || !strings.Contains(stderr, sb.logFile()) {
		t.Errorf("serve with a linked log: exit %d, stderr %q; want a refusal naming the file", code, stderr)
	}
	if b, _ := os.ReadFile(rc); string(b) != "# my rc\n" {
		t.Errorf("the rc file changed: %q", b)
	}
}

// TestPlantedInstanceGetsNoToken: the token theft of issue 12. Another local
// user made the data folder world-writable and planted clearway.lock (held)
// and instance.json pointing at their own listener. `clearway status` must
// not send the client token there, and `clearway serve` refuses the folder,
// naming the chmod that fixes it.
func TestPlantedInstanceGetsNoToken(t *testing.T) {
	var stolen atomic.Int64
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" {
			stolen.Add(1)
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(thief.Close)
	sb := newSandbox(t)
	sb.env["CLEARWAY_TOKEN"] = "planted-test-TESTSECRET-token-0123456789"
	sb.writeConfig("listen: 127.0.0.1:0\nupstreams: {api: {url: 'https://127.0.0.1:9'}}\n")
	dir := sb.dataDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	info := fmt.Sprintf(`{"pid":1,"addr":%q,"client_token":true}`, strings.TrimPrefix(thief.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "instance.json"), []byte(info), 0o666); err != nil {
		t.Fatal(err)
	}
	fl := flock.New(filepath.Join(dir, "clearway.lock"), flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o666))
	if ok, err := fl.TryLock(); !ok || err != nil {
		t.Fatalf("hold the planted lock: %v %v", ok, err)
	}
	t.Cleanup(func() { _ = fl.Unlock() })

	_, stderr, code := sb.run("", "status")
	if stolen.Load() != 0 {
		t.Fatalf("clearway status sent the client token to the planted address (%d requests)", stolen.Load())
	}
	if code == 0 || !strings.Contains(stderr, "chmod 700 "+dir) {
		t.Errorf("status: exit %d, stderr %q; want a refusal naming the chmod", code, stderr)
	}
	_, stderr, code = sb.run("", "serve", "--config", sb.config, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "chmod 700 "+dir) {
		t.Errorf("serve in a world-writable data folder: exit %d, stderr %q", code, stderr)
	}
}

// TestStatusOverUnixSocket: `clearway serve` serves its admin endpoints on a
// 0600 unix socket in a 0700 folder and records it; `clearway status` uses
// it, so a squatted or wrong TCP address in instance.json never sees the
// token (here the address is rewritten to a thief's listener: status still
// answers from the real instance, and the thief gets nothing).
func TestStatusOverUnixSocket(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("unix socket admin API: Linux and macOS only")
	}
	var stolen atomic.Int64
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	t.Cleanup(thief.Close)
	sb := newSandbox(t)
	sb.env["XDG_RUNTIME_DIR"] = ""
	sb.env["CLEARWAY_TOKEN"] = "socket-test-TESTSECRET-token-0123456789"
	sb.writeConfig("listen: 127.0.0.1:0\nupstreams: {api: {url: 'https://127.0.0.1:9'}}\n")
	p := sb.serve()
	infoPath := filepath.Join(sb.dataDir(), "instance.json")
	var info struct {
		PID         int    `json:"pid"`
		Addr        string `json:"addr"`
		Socket      string `json:"socket"`
		ClientToken bool   `json:"client_token"`
	}
	b, err := os.ReadFile(infoPath)
	if err != nil || json.Unmarshal(b, &info) != nil || info.Socket == "" {
		t.Fatalf("instance.json has no socket: %s %v", b, err)
	}
	st, err := os.Lstat(info.Socket)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v %v", info.Socket, st, err)
	}
	if d, _ := os.Stat(filepath.Dir(info.Socket)); d.Mode().Perm() != 0o700 {
		t.Errorf("socket folder mode %#o, want 0700", d.Mode().Perm())
	}
	info.Addr = strings.TrimPrefix(thief.URL, "http://")
	b, _ = json.Marshal(info)
	if err := os.WriteFile(infoPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := sb.run("", "status")
	if code != 0 || !strings.Contains(out, "api") {
		t.Errorf("status over the socket: exit %d, out %q, err %q", code, out, stderr)
	}
	if stolen.Load() != 0 {
		t.Errorf("the TCP address got %d requests; the socket should have been used", stolen.Load())
	}
	_ = p.stop(syscall.SIGTERM)
	if _, err := os.Lstat(info.Socket); !os.IsNotExist(err) {
		t.Errorf("socket left after a clean stop: %v", err)
	}
}

// TestShortEnvTokenRefused: CLEARWAY_TOKEN=x was accepted as the client
// token; `clearway serve` now refuses it, says how to make one, and never
// prints the value.
func TestShortEnvTokenRefused(t *testing.T) {
	sb := newSandbox(t)
	sb.env["CLEARWAY_TOKEN"] = "TESTSECRETx"
	sb.writeConfig("listen: 127.0.0.1:0\nupstreams: {api: {url: 'https://127.0.0.1:9'}}\n")
	_, stderr, code := sb.run("", "serve", "--config", sb.config, "--listen", "127.0.0.1:0")
	if code == 0 || !strings.Contains(stderr, "at least 32") || strings.Contains(stderr, "TESTSECRETx") {
		t.Errorf("serve with CLEARWAY_TOKEN of 11 characters: exit %d, stderr %q", code, stderr)
	}
}
