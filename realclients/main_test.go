package realclients

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/clearway/clearway/internal/desktoptest"
)

// Environment the outer test process hands the inner one (the same test
// binary, re-run inside the network namespace).
const (
	envInside = "CLEARWAY_REALCLIENTS_NETNS" // "1" inside the namespace
	envBinary = "CLEARWAY_REALCLIENTS_BIN"   // the clearway binary built outside
)

var (
	// binPath is the clearway binary under test.
	binPath string
	// setupProblem says why the suite cannot run here ("" when it can); every
	// test fails on it under CI=true and skips loudly otherwise.
	setupProblem string
)

// TestMain builds clearway, then re-runs this test binary in a new network
// namespace holding only loopback (clone(2) with CLONE_NEWNET, as
// `unshare --net` does), where it brings lo up and runs the tests. Outside
// Linux or without root the tests report why they cannot run.
func TestMain(m *testing.M) {
	if os.Getenv(envInside) == "1" {
		binPath = os.Getenv(envBinary)
		if err := loopbackUp(); err != nil {
			fmt.Fprintln(os.Stderr, "realclients: bringing lo up in the new network namespace:", err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		setupProblem = "the real-clients suite runs the clients in a loopback-only network namespace, which needs root on Linux (CI runs as root)"
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "clearway-realclients-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code, err := outside(dir)
	_ = os.RemoveAll(dir)
	if err != nil {
		// No namespace could be made (a container without CAP_SYS_ADMIN):
		// run here so that every test reports why.
		setupProblem = "cannot create a network namespace for the clients (root with CAP_SYS_ADMIN needed; in a container: --privileged or --cap-add SYS_ADMIN): " + err.Error()
		os.Exit(m.Run())
	}
	os.Exit(code)
}

// outside builds the binary (the namespace has no network for module
// downloads) and runs the tests in the namespace; it returns their exit code,
// or an error when the namespace cannot be created.
func outside(dir string) (int, error) {
	bin := filepath.Join(dir, "clearway")
	if prebuilt := os.Getenv(envBinary); prebuilt != "" {
		bin = prebuilt // e.g. an older build, to measure the behaviour before a change
	} else {
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = ".."
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "realclients: building clearway:", err)
			return 1, nil
		}
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1, nil
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), envInside+"=1", envBinary+"="+bin)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	default:
		fmt.Fprintln(os.Stderr, "realclients: running the tests in a new network namespace:", err)
		return 1, nil
	}
}

// loopbackUp sets the IFF_UP flag of lo, as `ip link set lo up` does.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set flags: %w", err)
	}
	return nil
}

// npmDir is where build/test.sh installs the pinned clients (npm ci).
const npmDir = "npm"

// requireSuite stops the test (failing under CI=true, skipping loudly
// otherwise) when the suite cannot run: not root on Linux, no node, or the
// npm packages not installed.
func requireSuite(t *testing.T) {
	t.Helper()
	if setupProblem != "" {
		desktoptest.Unmet(t, setupProblem)
	}
	desktoptest.Require(t, "node")
	for _, p := range []string{"node_modules/.bin/claude", "node_modules/@anthropic-ai/sdk/package.json", "node_modules/openai/package.json", "node_modules/.bin/cn"} {
		if _, err := os.Stat(filepath.Join(npmDir, p)); err != nil {
			desktoptest.Unmet(t, fmt.Sprintf("the pinned npm clients are not installed (%s missing): run `npm ci --prefix realclients/npm` (build/test.sh does)", p))
		}
	}
}

// TestNamespaceHasOnlyLoopback proves the isolation the suite relies on:
// the only interface is lo, and the internet is unreachable.
func TestNamespaceHasOnlyLoopback(t *testing.T) {
	requireSuite(t)
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		t.Fatalf("interfaces %v, want only lo, up", ifs)
	}
	if c, err := net.Dial("tcp", "1.1.1.1:443"); err == nil {
		c.Close()
		t.Fatal("reached 1.1.1.1:443 from inside the namespace")
	}
}
