//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/internal/desktoptest"
)

// requireRoot fails under CI (which runs as root) and skips loudly elsewhere.
func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	desktoptest.Unmet(t, why+" needs root (CI runs as root)")
}

// TestFullDataFolderKeepsServing puts the data folder on a tiny tmpfs (256
// KiB: the usage ledger's usage.db, -wal and -shm take about 57 KiB of it),
// fills it, and checks that the proxy keeps serving while the cookie save fails,
// says so once, and saves once there is room again.
func TestFullDataFolderKeepsServing(t *testing.T) {
	requireRoot(t, "mounting a small tmpfs as the data folder")
	var n atomic.Int64
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		http.SetCookie(w, &http.Cookie{Name: fmt.Sprintf("c%d", i), Value: "v", Path: "/", MaxAge: 3600, Secure: true})
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	sb := newSandbox(t)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(gateYAML, "%s", up.URL))
	dir := sb.dataDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	p := sb.serve()
	// Fill the folder after the lock file is written.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write(make([]byte, 512<<10)) // more than fits: the write stops at ENOSPC
	f.Close()

	for i := range 5 {
		resp, body := request(t, "GET", p.url("/cf/x"), nil, "")
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d with a full disk: %d %q", i, resp.StatusCode, body)
		}
	}
	waitUntil(t, "the save failure in the log", 10*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "saving cookie jars failed")
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	took := waitUntil(t, "the retried save", 20*time.Second, func() bool {
		b, err := os.ReadFile(sb.cookieFile())
		return err == nil && strings.Contains(string(b), `"c5"`)
	})
	t.Logf("saved %s after space came back", took.Round(time.Millisecond))
	if c := strings.Count(p.stderr.String(), "saving cookie jars failed"); c != 1 {
		t.Errorf("the save failure was logged %d times, want once", c)
	}
	if !strings.Contains(p.stderr.String(), "saved cookie jars after failed attempts") {
		t.Errorf("no recovery line in the log")
	}
}

// TestKeychainGoneWhileRunning stops the Secret Service under a running proxy:
// requests keep using the keys already in memory, a reload gives a clear
// error at once instead of hanging, and when the keychain is back a reload
// works again.
func TestKeychainGoneWhileRunning(t *testing.T) {
	bus := desktoptest.StartBus(t)
	kr := desktoptest.StartKeyring(t, bus)
	rec := &headerRecorder{}
	up := httptest.NewTLSServer(rec)
	defer up.Close()
	sb := newSandbox(t)
	sb.useDesktop(bus, kr)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(keysYAML, "%s", up.URL))
	for name, val := range map[string]string{"anthropic": "sk-ant-TESTSECRET-9", "supermemory": "sm-TESTSECRET-9"} {
		if _, stderr, code := sb.run(val, "keys", "set", name); code != 0 {
			t.Fatalf("keys set: %s", stderr)
		}
	}
	token, _, _ := sb.run("", "token")
	token = strings.TrimSpace(token)
	p := sb.serve()
	auth := http.Header{"X-Api-Key": {token}}
	if resp, _ := request(t, "POST", p.url("/anthropic/v1/messages"), auth, "{}"); resp.StatusCode != 200 {
		t.Fatalf("before: %d", resp.StatusCode)
	}

	kr.Lock(t)
	start := time.Now()
	_, stderr, code := sb.run("sk-new", "keys", "set", "openai")
	if code == 0 || !strings.Contains(strings.ToLower(stderr), "lock") {
		t.Errorf("keys set with a locked keyring: exit %d, %q; want a clear 'locked' error", code, stderr)
	}
	t.Logf("locked keyring: clear error after %s", time.Since(start).Round(time.Millisecond))
	if resp, _ := request(t, "POST", p.url("/anthropic/v1/messages"), auth, "{}"); resp.StatusCode != 200 {
		t.Errorf("with the keyring locked, a request with the cached key: %d, want 200", resp.StatusCode)
	}
	kr.Unlock(t)
	// Recovery: with the keyring unlocked again the same command works and the
	// running proxy uses the new key at once.
	if _, stderr, code := sb.run("sk-oa-TESTSECRET-9", "keys", "set", "openai"); code != 0 {
		t.Fatalf("keys set after unlock: %s", stderr)
	}
	if resp, _ := request(t, "POST", p.url("/openai/v1/chat/completions"), auth, "{}"); resp.StatusCode != 200 || rec.last().Get("Authorization") != "Bearer sk-oa-TESTSECRET-9" {
		t.Errorf("after unlock: %d %q", resp.StatusCode, rec.last().Get("Authorization"))
	}

	kr.Stop(t)
	start = time.Now()
	_, stderr, code = sb.run("", "keys", "list")
	if code == 0 || !strings.Contains(stderr, "Secret Service") {
		t.Errorf("keys list with no Secret Service: exit %d %q", code, stderr)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("keys list hung for %s", took)
	}
	if resp, _ := request(t, "POST", p.url("/anthropic/v1/messages"), auth, "{}"); resp.StatusCode != 200 {
		t.Errorf("with the keychain gone, a request with the cached key: %d, want 200", resp.StatusCode)
	}
	if rec.last().Get("X-Api-Key") != "sk-ant-TESTSECRET-9" {
		t.Errorf("cached key not injected")
	}
	_ = p.stop(syscall.SIGTERM)
}
