package tray

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/clearway/clearway/internal/desktoptest"
	"github.com/clearway/clearway/tray/traytest"
)

// TestTrayClipboard drives the copy and "Set from clipboard" actions through
// the real X clipboard (Xvfb + xclip, which github.com/atotto/clipboard uses)
// and checks what reaches the app and the notification server.
func TestTrayClipboard(t *testing.T) {
	xclip := desktoptest.Require(t, "xclip")["xclip"]
	bus := desktoptest.StartBus(t)
	desktoptest.StartXvfb(t)
	host := traytest.StartHost(t, bus.Conn(t))
	rec := desktoptest.StartNotificationRecorder(t, bus)
	startHelper(t, "1", "XDG_CONFIG_HOME="+t.TempDir())
	it := host.WaitItem(t, waitLong)
	status := it.WaitEntry(t, waitLong, "Running on *").Label
	base := "http://" + strings.TrimPrefix(status, "Running on ")

	readClipboard := func() string {
		out, _ := exec.Command(xclip, "-selection", "clipboard", "-o").Output()
		return string(out)
	}
	writeClipboard := func(s string) {
		t.Helper()
		cmd := exec.Command(xclip, "-selection", "clipboard", "-i")
		cmd.Stdin = strings.NewReader(s)
		// No output pipes: xclip forks a child that keeps serving the
		// selection (until the X server stops) and would hold them open.
		if err := cmd.Run(); err != nil {
			t.Fatalf("xclip -i: %v", err)
		}
		// xclip's child takes the selection after the parent returns: wait
		// until the clipboard says s, or the tray may read the old text
		// (seen once in CI: the previous key was set again).
		traytest.Wait(t, "the clipboard holds the new text", waitLong, func() bool { return readClipboard() == s })
	}
	waitNote := func(summary string) desktoptest.Notification {
		t.Helper()
		ns := rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
			for _, n := range ns {
				if n.Summary == summary {
					return true
				}
			}
			return false
		}, waitLong)
		for _, n := range ns {
			if n.Summary == summary {
				return n
			}
		}
		return desktoptest.Notification{}
	}
	keys := func() string { s, _ := get(t, base+"/_keys"); return s }

	t.Run("copy setups", func(t *testing.T) {
		it.ClickPath(t, waitLong, "Copy base URL")
		traytest.Wait(t, "base URL on the clipboard", waitLong, func() bool { return readClipboard() == base })

		it.ClickPath(t, waitLong, "Copy Claude Code setup")
		want := "export ANTHROPIC_BASE_URL=" + base + "/anthropic\nexport ANTHROPIC_API_KEY=" + helperToken + "\nexport CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n"
		traytest.Wait(t, "Claude Code setup on the clipboard", waitLong, func() bool { return readClipboard() == want })
		n := waitNote("Copied Claude Code setup")
		if strings.Contains(n.Body, helperToken) {
			t.Errorf("confirmation shows the token: %q", n.Body)
		}

		it.ClickPath(t, waitLong, "Copy OpenAI setup")
		want = "export OPENAI_BASE_URL=" + base + "/openai/v1\nexport OPENAI_API_KEY=" + helperToken + "\n"
		traytest.Wait(t, "OpenAI setup on the clipboard", waitLong, func() bool { return readClipboard() == want })
	})

	t.Run("run diagnostics", func(t *testing.T) {
		it.ClickPath(t, waitLong, "Run diagnostics")
		traytest.Wait(t, "the diagnostics report on the clipboard", waitLong, func() bool { return readClipboard() == helperReport })
		n := waitNote("Diagnostics: 1 ok, 1 warning, 1 failed")
		if !strings.Contains(n.Body, "✗ port: 127.0.0.1:8764 is in use by another program: pid 4242 (nginx)\n! tray: none\n") ||
			!strings.Contains(n.Body, "on the clipboard") {
			t.Errorf("diagnostics notification body %q", n.Body)
		}
	})

	t.Run("set key from clipboard", func(t *testing.T) {
		const secret = "sk-test-openai-secret-9f3a"
		writeClipboard(secret + "\n")
		it.ClickPath(t, waitLong, "API keys*", "openai: missing", "Set from clipboard")
		sum := sha256.Sum256([]byte(secret))
		want := fmt.Sprintf("openai=%d:%s", len(secret), hex.EncodeToString(sum[:4]))
		traytest.Wait(t, "key reaches the app", waitLong, func() bool { return strings.Contains(keys(), want) })
		it.WaitEntry(t, waitLong, "API keys", "openai: set")
		n := waitNote("API key openai set (…9f3a)")
		if strings.Contains(n.Summary+n.Body, secret) || strings.Contains(n.Summary+n.Body, "secret-9f3a") {
			t.Errorf("confirmation shows more than the last 4 characters: %q %q", n.Summary, n.Body)
		}
	})

	t.Run("refuses what is not a key", func(t *testing.T) {
		before := keys()
		writeClipboard("two words here")
		it.ClickPath(t, waitLong, "API keys", "anthropic: set", "Set from clipboard")
		n := waitNote("API key anthropic not set")
		if !strings.Contains(n.Body, "several words or lines") || strings.Contains(n.Body, "two words") {
			t.Errorf("refusal %q: want the reason and no clipboard text", n.Body)
		}
		writeClipboard(helperToken)
		it.ClickPath(t, waitLong, "API keys", "anthropic: set", "Set from clipboard")
		rec.WaitFor(t, func(ns []desktoptest.Notification) bool {
			return strings.Contains(ns[len(ns)-1].Body, "client token")
		}, waitLong)
		if got := keys(); got != before {
			t.Errorf("keys changed after refused clipboards:\n%s\nwas\n%s", got, before)
		}
	})

	t.Run("remove key", func(t *testing.T) {
		it.ClickPath(t, waitLong, "API keys", "openai: set", "Remove")
		traytest.Wait(t, "key removed", waitLong, func() bool { return !strings.Contains(keys(), "openai=") })
		it.WaitEntry(t, waitLong, "API keys (1 missing)", "openai: missing")
	})

	for _, n := range rec.Notifications() {
		if strings.Contains(n.Summary+n.Body, helperToken) || strings.Contains(n.Summary+n.Body, "sk-test-openai") {
			t.Errorf("notification carries a secret: %q %q", n.Summary, n.Body)
		}
	}
}
