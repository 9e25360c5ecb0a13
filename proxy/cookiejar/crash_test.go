package cookiejar

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv, when set to a file path, turns the test binary into the
// crash-test child: it opens a Store on that path and churns cookies and
// saves until it is killed.
const crashChildEnv = "CLEARWAY_COOKIEJAR_CRASH_CHILD"

// killLoopsEnv sets how many times TestKillLoop kills the child (default 100).
const killLoopsEnv = "CLEARWAY_KILL_LOOPS"

const (
	crashUpstreams = 3
	crashCookies   = 150 // per upstream; values are large so a save takes a while
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(runCrashChild(path))
	}
	os.Exit(m.Run())
}

// runCrashChild churns: every save is followed by a batch of changes (new
// values, a new User-Agent), which triggers the next save, so the process is
// always changing or writing. It prints "saved N" after each save.
func runCrashChild(path string) int {
	saved := make(chan struct{}, 1)
	n := 0
	s, err := Open(Options{Path: path, SaveDelay: time.Millisecond, MinRetryDelay: time.Millisecond,
		OnSave: func(err error) {
			if err != nil {
				fmt.Fprintln(os.Stderr, "save failed:", err)
				return
			}
			n++
			fmt.Printf("saved %d\n", n)
			select {
			case saved <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	value := func() string {
		b := make([]byte, 300)
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rng.IntN(36)]
		}
		return string(b)
	}
	u := &url.URL{Scheme: "https", Host: "api.example.com", Path: "/v1/messages"}
	churn := func(count int) {
		for range count {
			up := rng.IntN(crashUpstreams)
			jar := s.Jar(fmt.Sprint("up", up))
			name := fmt.Sprint("c", rng.IntN(crashCookies))
			line := name + "=" + value() + "; Path=/; Domain=example.com"
			if rng.IntN(2) == 0 {
				line += "; Max-Age=86400"
			}
			jar.SetCookies(u, setCookiesNoT(line))
			if rng.IntN(20) == 0 {
				s.SetUserAgent(fmt.Sprint("up", up), "UA/"+strconv.Itoa(rng.IntN(1000)))
			}
		}
	}
	// Fill every cookie once, so each load must see crashCookies per upstream.
	for up := range crashUpstreams {
		for c := range crashCookies {
			s.Jar(fmt.Sprint("up", up)).SetCookies(u, setCookiesNoT(fmt.Sprintf("c%d=%s; Path=/; Domain=example.com", c, value())))
		}
	}
	go s.Run(context.Background())
	for {
		<-saved
		churn(50)
	}
}

// TestKillLoop SIGKILLs a real child process that churns cookies and saves
// continuously, at random moments, many times; after every kill the file
// must load without being moved aside, and hold a whole snapshot.
func TestKillLoop(t *testing.T) {
	loops := 100
	if v := os.Getenv(killLoopsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q is not a positive count", killLoopsEnv, v)
		}
		loops = n
	} else if testing.Short() {
		loops = 20
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "cookies.json")
	budget := time.Now().Add(5 * time.Minute)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	kills, loads, midWrite, totalSaves := 0, 0, 0, 0
	for i := range loops {
		if time.Now().After(budget) {
			t.Fatalf("out of time after %d kills", kills)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait until the child has saved once, then kill it at a random
		// moment of its churn (the random delay is the test's stimulus).
		select {
		case _, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("kill %d: child exited before saving: %s", i, stderr.String())
			}
			totalSaves++
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child did not save within 30s: %s", i, stderr.String())
		}
		killAt := time.After(time.Duration(rng.Int64N(int64(100 * time.Millisecond))))
	wait:
		for {
			select {
			case _, ok := <-lines:
				if !ok {
					t.Fatalf("kill %d: child exited by itself: %s", i, stderr.String())
				}
				totalSaves++
			case <-killAt:
				break wait
			}
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix, TerminateProcess on Windows
			t.Fatal(err)
		}
		err = cmd.Wait()
		for range lines {
			totalSaves++
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); runtime.GOOS != "windows" && (!ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL) {
			t.Fatalf("kill %d: child ended with %v, not by SIGKILL: %s", i, err, stderr.String())
		}
		kills++
		if m, _ := filepath.Glob(filepath.Join(dir, ".cookies.json*")); len(m) > 0 {
			midWrite++ // killed while a temporary file was open
		}

		lb := &logBuffer{}
		s, err := Open(Options{Path: path, Logger: lb.logger()})
		if err != nil {
			t.Fatalf("kill %d: Open: %v", i, err)
		}
		if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) > 0 || strings.Contains(lb.String(), "does not parse") {
			t.Fatalf("kill %d: the file did not load and was moved aside: %s", i, lb.String())
		}
		for up := range crashUpstreams {
			if n := s.Jar(fmt.Sprint("up", up)).Len(); n != crashCookies {
				t.Fatalf("kill %d: up%d holds %d cookies, want %d (a partial snapshot)", i, up, n, crashCookies)
			}
		}
		if m, _ := filepath.Glob(filepath.Join(dir, ".cookies.json*")); len(m) > 0 {
			t.Fatalf("kill %d: Open left stale temporary files %v", i, m)
		}
		loads++
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("kill %d: file mode %v", i, fi.Mode().Perm())
		}
	}
	t.Logf("kill loop: %d SIGKILLs, %d loads succeeded, %d kills landed while a save's temporary file existed, %d saves completed by the children",
		kills, loads, midWrite, totalSaves)
	if loads != kills {
		t.Errorf("%d loads for %d kills", loads, kills)
	}
}

// setCookiesNoT is setCookies for the child, which has no testing.T.
func setCookiesNoT(line string) []*http.Cookie {
	c, err := http.ParseSetCookie(line)
	if err != nil {
		panic(err)
	}
	return []*http.Cookie{c}
}
