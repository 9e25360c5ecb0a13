//go:build linux

// Command wine runs the Windows build of clearway for real under Wine and
// checks what a Windows user would do with it: `version`, `config check`,
// `keys set` into Wine's credential store, `token`, `serve` on a free loopback
// port answering /_clearway/health to the Linux curl and proxying one request
// to a local TLS test upstream with that key, `status` and `doctor` against it,
// and a clean stop by Ctrl+C on its console.
//
// build/ci.d/75-wine.sh prepares Wine (the prefix, the ProcessPrng stub, Xvfb)
// and runs it:
//
//	go run ./build/wine -exe clearway.exe -out DIR
//
// WINEPREFIX, WINEDEBUG and DISPLAY come from the environment. Every step says
// what it ran and how long it took; the first failure ends the run with exit
// status 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// stepTimeout bounds each Wine command; a fresh prefix's first start takes a
// few seconds, a hang would take forever.
const stepTimeout = 90 * time.Second

func main() {
	exe := flag.String("exe", "", "clearway.exe to run")
	out := flag.String("out", "", "folder for the captured outputs (doctor, status, logs)")
	shot := flag.String("screenshot", "", "if set, also start the tray app and save a screenshot of Wine's tray here (needs DISPLAY)")
	flag.Parse()
	if *exe == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: go run ./build/wine -exe clearway.exe -out DIR [-screenshot FILE.png]")
		os.Exit(2)
	}
	r := &runner{exe: *exe, out: *out, start: time.Now()}
	if err := r.run(); err != nil {
		r.say("FAIL: %v", err)
		os.Exit(1)
	}
	if *shot != "" {
		if err := r.trayScreenshot(*shot); err != nil {
			// The tray picture is a bonus: say why there is none, do not fail.
			r.say("no tray screenshot: %v", err)
		}
	}
	r.say("all Wine checks passed")
}

type runner struct {
	exe, out string
	start    time.Time
}

func (r *runner) say(format string, a ...any) {
	fmt.Printf("[wine] [%5.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, a...))
}

// winPath turns a Linux path into the Z: path Wine maps it to.
func winPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return `Z:` + strings.ReplaceAll(abs, "/", `\`)
}

// wine runs clearway.exe with args (stdin from input) and returns its
// standard output and error, and its exit code.
func (r *runner) wine(env []string, input string, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wine", append([]string{r.exe}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(input)
	// Files, not pipes: Wine's helper processes (winedevice, services) may
	// inherit the handles and outlive the command, and Wait would wait for them.
	o, err := os.CreateTemp(r.out, "stdout-*")
	if err != nil {
		return "", "", 0, err
	}
	e, err := os.CreateTemp(r.out, "stderr-*")
	if err != nil {
		o.Close()
		return "", "", 0, err
	}
	defer func() {
		o.Close()
		e.Close()
		os.Remove(o.Name())
		os.Remove(e.Name())
	}()
	cmd.Stdout, cmd.Stderr = o, e
	t0 := time.Now()
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("wine clearway.exe %s did not finish within %v", strings.Join(args, " "), stepTimeout)
	}
	ob, _ := os.ReadFile(o.Name())
	eb, _ := os.ReadFile(e.Name())
	stdout, stderr = string(ob), string(eb)
	r.say("wine clearway.exe %s -> exit %d (%d ms)", strings.Join(args, " "), code, time.Since(t0).Milliseconds())
	return stdout, stderr, code, err
}

// must runs clearway.exe and fails unless it exits 0 and its output matches want.
func (r *runner) must(env []string, input string, want *regexp.Regexp, args ...string) (string, error) {
	o, e, code, err := r.wine(env, input, args...)
	if err != nil {
		return "", err
	}
	if code != 0 {
		return "", fmt.Errorf("clearway.exe %s exited %d:\n%s%s", strings.Join(args, " "), code, o, e)
	}
	if want != nil && !want.MatchString(o+e) {
		return "", fmt.Errorf("clearway.exe %s printed no match for %q:\n%s%s", strings.Join(args, " "), want, o, e)
	}
	return o + e, nil
}

func (r *runner) save(name, text string) {
	_ = os.WriteFile(filepath.Join(r.out, name), []byte(text), 0o644)
}

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
