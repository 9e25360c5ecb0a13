package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds how long a proxy may take to serve its first request.
const readyTimeout = 15 * time.Second

// target is one way of reaching the mock upstream: directly or through a proxy.
type target interface {
	// name is the short label used in tables and flags.
	name() string
	// start launches a fresh instance and returns once it has served a
	// request through to the upstream.
	start(ctx context.Context) (*instance, error)
}

// instance is a running target.
type instance struct {
	// baseURL is prefixed to upstream paths ("/json", "/sse?..."): requests
	// to baseURL+"/json" reach the upstream's /json.
	baseURL string
	// pid is the proxy's process id, 0 for direct.
	pid int
	// startup is the time from exec to the first 200 through the proxy.
	startup time.Duration
	// stop ends the instance and waits for it.
	stop func() error
	// wrap, when set, wraps the load generator's transport (see ccrTransport).
	wrap func(http.RoundTripper) http.RoundTripper
}

// client returns a load client for this instance keeping conns connections.
func (in *instance) client(conns int) *http.Client {
	c := newLoadClient(conns)
	if in.wrap != nil {
		c.Transport = in.wrap(c.Transport)
	}
	return c
}

// proxyPIDs returns the proxy process and its descendants, nil for direct.
func (in *instance) proxyPIDs() []int {
	if in.pid == 0 {
		return nil
	}
	return processTree(in.pid)
}

// directTarget talks to the mock upstream without a proxy: the limit.
type directTarget struct{ upstreamURL string }

// name implements target.
func (d directTarget) name() string { return "direct" }

// start implements target: there is nothing to start.
func (d directTarget) start(context.Context) (*instance, error) {
	return &instance{baseURL: d.upstreamURL, stop: func() error { return nil }}, nil
}

// proxyTarget is a proxy run as a separate process pinned to the proxy core.
type proxyTarget struct {
	label string
	// prepare writes whatever the proxy needs into dir and returns its
	// command line and extra environment, for a proxy listening on listen.
	prepare func(dir, listen string) (argv []string, env []string, err error)
	// prefix is the path under which the proxy routes to the mock upstream.
	prefix string
	// wrap, when set, wraps the load generator's transport for this proxy.
	wrap func(http.RoundTripper) http.RoundTripper
	// pinCPU is the CPU list for taskset, "" for no pinning.
	pinCPU  string
	workDir string
	seq     int
}

// name implements target.
func (p *proxyTarget) name() string { return p.label }

// start implements target: it writes the proxy's files into a fresh
// directory, execs it (pinned), and waits for a 200 through it.
func (p *proxyTarget) start(ctx context.Context) (*instance, error) {
	p.seq++
	dir := filepath.Join(p.workDir, fmt.Sprintf("%s-%d", p.label, p.seq))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: %w", p.label, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.label, err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	argv, env, err := p.prepare(dir, listen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.label, err)
	}
	if p.pinCPU != "" {
		argv = append([]string{"taskset", "-c", p.pinCPU}, argv...)
	}
	logPath := filepath.Join(dir, "output.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.label, err)
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	base := "http://" + listen + p.prefix

	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", p.label, argv[0], err)
	}
	exited := &exitStatus{done: make(chan struct{})}
	go func() {
		exited.err = cmd.Wait()
		close(exited.done)
	}()
	stop := func() error { return stopProcess(cmd, exited) }

	startup, err := waitReady(ctx, base+"/json", exited, began, p.wrap)
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("%s: %w (log %s: %s)", p.label, err, logPath, tail(logPath, 600))
	}
	return &instance{baseURL: base, pid: cmd.Process.Pid, startup: startup, stop: stop, wrap: p.wrap}, nil
}

// exitStatus is closed-channel notice of a child's exit, readable by many.
type exitStatus struct {
	done chan struct{} // closed once the process has exited
	err  error         // Wait's result, valid after done is closed
}

// waitReady polls url until it answers 200 and returns the time since began.
// It gives up when the process exits, ctx ends, or readyTimeout passes.
func waitReady(ctx context.Context, url string, exited *exitStatus, began time.Time, wrap func(http.RoundTripper) http.RoundTripper) (time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	if wrap != nil {
		client.Transport = wrap(client.Transport)
	}
	defer client.CloseIdleConnections()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	// A short poll period: connection refused comes back at once, so the
	// resolution of the start-up figure is about this period.
	tick := time.NewTicker(250 * time.Microsecond)
	defer tick.Stop()
	var lastErr error
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(began), nil
			}
			lastErr = fmt.Errorf("status %s", resp.Status)
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-exited.done:
			return 0, fmt.Errorf("exited before serving: %v", exited.err)
		case <-deadline.C:
			return 0, fmt.Errorf("not ready after %v: %w", readyTimeout, lastErr)
		case <-tick.C:
		}
	}
}

// stopProcess sends SIGTERM, then SIGKILL after 5 s, and waits for the exit.
func stopProcess(cmd *exec.Cmd, exited *exitStatus) error {
	select {
	case <-exited.done:
		return nil // already gone (it failed to start, and that was reported)
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-exited.done:
		return nil
	case <-t.C:
		_ = cmd.Process.Kill()
		<-exited.done
		return fmt.Errorf("pid %d ignored SIGTERM for 5s", cmd.Process.Pid)
	}
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return strings.TrimSpace(string(b))
}

// newStockTarget runs build/bench/stockproxy: httputil.ReverseProxy tuned the obvious way.
func newStockTarget(bin, upstreamURL, workDir, pin string) *proxyTarget {
	return &proxyTarget{
		label: "stock", prefix: "/mock", pinCPU: pin, workDir: workDir,
		prepare: func(dir, listen string) ([]string, []string, error) {
			return []string{bin, "-listen", listen, "-upstream", upstreamURL}, nil, nil
		},
	}
}

// newClearwayTarget runs `clearway serve` with a generated config, a private
// HOME and XDG directories, and the env keychain, so it touches nothing of the user's.
// ledger false writes usage: {enabled: false}. A pprofDir gets a Go CPU
// profile and heap profiles at the process's memory high per start (a
// binary built with -tags benchprofile).
func newClearwayTarget(label, bin, upstreamURL, workDir, pin string, ledger bool, pprofDir string) *proxyTarget {
	p := &proxyTarget{label: label, prefix: "/mock", pinCPU: pin, workDir: workDir}
	p.prepare = func(dir, listen string) ([]string, []string, error) {
		home := filepath.Join(dir, "home")
		env := []string{
			"HOME=" + home,
			"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
			"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
			"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
			"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
			"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
			"CLEARWAY_KEYCHAIN=env",
			"CLEARWAY_CONFIG=" + filepath.Join(dir, "config.yaml"),
		}
		for _, d := range []string{home, filepath.Join(dir, "run")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, nil, err
			}
		}
		conf := clearwayConfig(listen, upstreamURL, ledger)
		if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(conf), 0o600); err != nil {
			return nil, nil, err
		}
		if pprofDir != "" {
			env = append(env, "CLEARWAY_BENCH_CPUPROFILE="+filepath.Join(pprofDir, fmt.Sprintf("%s-%d.prof", label, p.seq)),
				"CLEARWAY_BENCH_HEAPPROFILE="+filepath.Join(pprofDir, fmt.Sprintf("%s-%d.heap", label, p.seq)))
		}
		argv := []string{bin, "serve", "--config", filepath.Join(dir, "config.yaml"), "--listen", listen}
		return argv, env, nil
	}
	return p
}

// clearwayConfig is the benchmark's clearway configuration: one upstream
// "mock", no local client token, every default feature on; ledger false
// turns the usage ledger off.
func clearwayConfig(listen, upstreamURL string, ledger bool) string {
	// max_connections: the open-1000 scenario holds 1,000 client
	// connections at once, above the 512 default (nginx gets 8,192).
	conf := fmt.Sprintf(`listen: %s
client_token: false
max_connections: 4096
upstreams:
  mock:
    url: %s
`, listen, upstreamURL)
	if !ledger {
		conf += "usage: {enabled: false}\n"
	}
	return conf
}

// newNginxTarget runs nginx in the foreground with a generated config.
func newNginxTarget(bin, upstreamURL, workDir, pin string) *proxyTarget {
	return &proxyTarget{
		label: "nginx", prefix: "/mock", pinCPU: pin, workDir: workDir,
		prepare: func(dir, listen string) ([]string, []string, error) {
			conf := nginxConfig(dir, listen, strings.TrimPrefix(upstreamURL, "http://"), os.Geteuid() == 0)
			path := filepath.Join(dir, "nginx.conf")
			if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
				return nil, nil, err
			}
			return []string{bin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path, "-g", "daemon off;"}, nil, nil
		},
	}
}

// nginxConfig is nginx tuned as a streaming LLM reverse proxy: one worker,
// keepalive to the upstream, no response buffering, HTTP/1.1 upstream,
// all files in dir.
func nginxConfig(dir, listen, upstreamHostPort string, asRoot bool) string {
	user := ""
	if asRoot {
		user = "user root;\n" // workers must be able to use dir
	}
	return fmt.Sprintf(`%[5]sworker_processes 1;
worker_rlimit_nofile 16384;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events {
    worker_connections 8192;
}
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_requests 1000000;
    upstream mock {
        server %[3]s;
        keepalive 1024;
        keepalive_requests 1000000;
    }
    server {
        listen %[2]s backlog=4096;
        location %[4]s/ {
            proxy_pass http://mock/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
`, dir, listen, upstreamHostPort, "/mock", user)
}

// upstreamProcess is the mock upstream running as a child of the harness.
type upstreamProcess struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// startUpstream re-executes this program in the upstream role and returns
// once it listens. It inherits the harness's CPU pinning, or runs under
// `taskset -c pin` when pin is not empty (the split layout).
func startUpstream(logPath, pin string) (*upstreamProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	defer logFile.Close()
	argv := []string{exe, "-role", "upstream", "-listen", "127.0.0.1:0"}
	if pin != "" {
		argv = append([]string{"taskset", "-c", pin}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
	}
	var line string
	if _, err := fmt.Fscanln(stdout, new(string), &line); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("upstream did not report its address: %w (log: %s)", err, tail(logPath, 400))
	}
	u := &upstreamProcess{url: "http://" + line, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		u.done <- cmd.Wait()
	}()
	return u, nil
}

// stop closes the upstream's standard input (its signal to exit) and waits.
func (u *upstreamProcess) stop() error {
	_ = u.stdin.Close()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case err := <-u.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("upstream: %w", err)
		}
		return nil
	case <-t.C:
		_ = u.cmd.Process.Kill()
		<-u.done
		return errors.New("upstream did not exit within 5s of stdin closing")
	}
}
