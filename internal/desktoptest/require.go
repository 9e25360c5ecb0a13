package desktoptest

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// Packages maps each executable the desktop tests use to the Debian 12
// package that provides it. build/test.sh installs the same list.
var Packages = map[string]string{
	"dbus-daemon":           "dbus-daemon",
	"dbus-send":             "dbus-bin",
	"gnome-keyring-daemon":  "gnome-keyring",
	"secret-tool":           "libsecret-tools",
	"Xvfb":                  "xvfb",
	"xauth":                 "xauth",
	"dunst":                 "dunst",
	"dunstctl":              "dunst",
	"notify-send":           "libnotify-bin",
	"xfce4-panel":           "xfce4-panel",
	"import":                "imagemagick",
	"xdotool":               "xdotool",
	"xprop":                 "x11-utils",
	"xdpyinfo":              "x11-utils",
	"nginx":                 "nginx-light",
	"wrk":                   "wrk",
	"curl":                  "curl",
	"desktop-file-validate": "desktop-file-utils",
	"makensis":              "nsis",
	"xclip":                 "xclip",
	"redis-server":          "redis-server",
	"osslsigncode":          "osslsigncode",
	"chromium":              "chromium",
	"node":                  "nodejs",
}

// InCI reports whether the tests run in CI (environment CI=true), where a
// missing tool is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the absolute path of each named executable, looked up in
// PATH (and in /usr/sbin and /sbin, where Debian puts nginx). When one is
// missing it fails the test if CI=true and skips it with a loud reason
// otherwise, naming the Debian packages to install; in both cases the test
// stops (through t.FailNow or t.SkipNow) and Require does not return.
func Require(t testing.TB, tools ...string) map[string]string {
	t.Helper()
	paths := make(map[string]string, len(tools))
	var missing []string
	for _, tool := range tools {
		p, err := lookPath(tool)
		if err != nil {
			missing = append(missing, tool)
			continue
		}
		paths[tool] = p
	}
	if len(missing) > 0 {
		missingTools(t, missing)
		return nil
	}
	return paths
}

func lookPath(tool string) (string, error) {
	p, err := exec.LookPath(tool)
	if err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err2 := exec.LookPath(dir + "/" + tool); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

// missingTools fails (CI) or skips the test, explaining how to install what
// is missing.
func missingTools(t testing.TB, missing []string) {
	t.Helper()
	pkgSet := map[string]bool{}
	for _, tool := range missing {
		if p, ok := Packages[tool]; ok {
			pkgSet[p] = true
		}
	}
	pkgs := make([]string, 0, len(pkgSet))
	for p := range pkgSet {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	msg := fmt.Sprintf("MISSING TOOLS %s: this test needs real desktop services", strings.Join(missing, ", "))
	if len(pkgs) > 0 {
		msg += fmt.Sprintf("; install them with: apt-get install --no-install-recommends %s (or run ./build/test.sh as root)", strings.Join(pkgs, " "))
	}
	Unmet(t, msg)
}

// Unmet stops a test whose prerequisite is missing (a tool, root, a kernel
// feature the CI machine has): it fails the test when CI=true and skips it
// loudly otherwise. why says what is missing and how to get it. It is the
// one place that decides between failing and skipping; Require uses it.
func Unmet(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s (CI=true: a missing prerequisite is a failure)", why)
		return
	}
	t.Skipf("SKIPPED LOUDLY: %s (set CI=true to make this a failure)", why)
}
