//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// The key the test stores with `keys set` and the upstream expects.
const (
	keyName   = "wine-test"
	keySecret = "sk-wine-KEYSECRET-0123456789"
)

func (r *runner) run() error {
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return err
	}
	if _, err := r.must(nil, "", regexp.MustCompile(`windows/amd64`), "version"); err != nil {
		return err
	}

	up, err := startUpstream(keySecret)
	if err != nil {
		return err
	}
	defer up.close()
	if err := r.trust(up); err != nil {
		return err
	}
	r.say("TLS test upstream on %s, its CA in Wine's HKCU Root certificate store", up.url)

	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfgFile := filepath.Join(r.out, "config.yaml")
	cfg := fmt.Sprintf("listen: %s\nupstreams:\n  testup:\n    url: %s\n    key: %s\n", addr, up.url, keyName)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return err
	}
	// CLEARWAY_CONFIG with a Windows path: every command below reads it.
	env := []string{"CLEARWAY_CONFIG=" + winPath(cfgFile), "SSL_CERT_FILE=", "SSL_CERT_DIR="}

	if _, err := r.must(env, "", regexp.MustCompile(`config\.yaml: ok \(listen `+regexp.QuoteMeta(addr)+`[\s\S]*testup -> `+regexp.QuoteMeta(up.url)), "config", "check"); err != nil {
		return err
	}
	if _, err := r.must(env, keySecret, regexp.MustCompile(`saved key "`+keyName+`"`), "keys", "set", keyName); err != nil {
		return err
	}
	list, err := r.must(env, "", regexp.MustCompile(keyName+`\s+set\s`), "keys", "list")
	if err != nil {
		return err
	}
	r.say("keys set stored the key in Wine's credential store (advapi32 CredWrite), not CLEARWAY_KEY_*:\n%s", indent(list))
	tokOut, err := r.must(env, "", regexp.MustCompile(`^[A-Za-z0-9_-]{43}\s*$`), "token")
	if err != nil {
		return err
	}
	token := strings.TrimSpace(tokOut)

	// serve, on a console (cmd.exe on a pseudo-terminal), as a user would.
	// Wine's cmd.exe ends at once on Ctrl+C; on Windows clearway.exe would go
	// on shutting down on the console, but here the terminal's session leader
	// exiting sends SIGHUP to clearway.exe's Unix process and kills it
	// mid-shutdown. The shell makes the session ignore SIGHUP.
	c, err := startConsole(append(os.Environ(), env...), "sh", "-c", `trap "" HUP; exec "$@"`, "sh",
		"wine", "cmd", "/c", winPath(r.exe), "serve", "--listen", addr)
	if err != nil {
		return err
	}
	defer c.kill()
	t0 := time.Now()
	if err := waitFor(60*time.Second, func() bool {
		return exec.Command("curl", "-fsS", "-o", "/dev/null", "http://"+addr+"/_clearway/health").Run() == nil
	}); err != nil {
		return fmt.Errorf("serve did not answer /_clearway/health to curl: %w; its console:\n%s", err, c.output())
	}
	r.say("serve answers http://%s/_clearway/health to the Linux curl (%d ms after start)", addr, time.Since(t0).Milliseconds())

	body := filepath.Join(r.out, "answer.json")
	res, err := exec.Command("curl", "-sS", "-o", body, "-w", "%{http_code}", "-H", "x-api-key: "+token,
		"-H", "content-type: application/json", "-d", `{"model":"test","max_tokens":1}`,
		"http://"+addr+"/testup/v1/messages").Output()
	if err != nil {
		return fmt.Errorf("curl through the proxy: %w", err)
	}
	answer, _ := os.ReadFile(body)
	if string(res) != "200" || up.requests() != 1 || !up.sawKey() {
		return fmt.Errorf("through the proxy: HTTP %s %s; upstream saw %d requests, key injected: %v", res, answer, up.requests(), up.sawKey())
	}
	r.say("curl -> clearway.exe -> TLS upstream: HTTP 200, the upstream got the key from the credential store in x-api-key")

	status, err := r.must(env, "", regexp.MustCompile(`serving on http://`+regexp.QuoteMeta(addr)+`[\s\S]*testup\s+ok\s+1\s`), "status")
	if err != nil {
		return err
	}
	r.save("status.txt", status)
	r.say("status:\n%s", indent(status))
	doc, _, code, err := r.wine(env, "", "doctor")
	if err != nil {
		return err
	}
	r.save("doctor.txt", doc)
	r.say("doctor (exit %d):\n%s", code, indent(doc))
	if code != 0 || !strings.Contains(doc, "held by the running clearway") || !strings.Contains(doc, "✓ upstream:testup") {
		return fmt.Errorf("doctor against the running clearway.exe: exit %d, want 0 with the port held by it and the upstream reachable", code)
	}
	for _, s := range []string{keySecret, token} {
		if strings.Contains(status+doc+list, s) {
			return fmt.Errorf("a secret was printed by status, doctor or keys list")
		}
	}

	// A clean stop: Ctrl+C on its console.
	t0 = time.Now()
	if err := c.interrupt(); err != nil {
		return err
	}
	code, err = c.wait(30 * time.Second)
	if err != nil {
		return fmt.Errorf("after Ctrl+C: %w; its console:\n%s", err, c.output())
	}
	r.save("serve-console.txt", c.output())
	if code != 0 {
		return fmt.Errorf("after Ctrl+C: cmd.exe exited %d; its console:\n%s", code, c.output())
	}
	// cmd.exe gets the Ctrl+C too and may end first: wait for clearway.exe
	// itself to say it stopped in its log, close the port and release the lock.
	appDirs, _ := filepath.Glob(filepath.Join(os.Getenv("WINEPREFIX"), "drive_c", "users", "*", "AppData", "Local", "clearway"))
	if len(appDirs) != 1 {
		return fmt.Errorf("want one %%LOCALAPPDATA%%\\clearway in the prefix, found %v", appDirs)
	}
	logFile := filepath.Join(appDirs[0], "clearway.log")
	stoppedRe := regexp.MustCompile(`"msg":"stopped","addr":"` + regexp.QuoteMeta(addr) + `"`)
	if err := waitFor(30*time.Second, func() bool {
		b, _ := os.ReadFile(logFile)
		_, statErr := os.Stat(filepath.Join(appDirs[0], "instance.json"))
		return stoppedRe.Match(b) && os.IsNotExist(statErr) &&
			exec.Command("curl", "-fsS", "-o", "/dev/null", "http://"+addr+"/_clearway/health").Run() != nil
	}); err != nil {
		b, _ := os.ReadFile(logFile)
		return fmt.Errorf("after Ctrl+C clearway.exe did not stop cleanly (log line \"stopped\", instance.json removed, port closed) %w; its log:\n%s", err, b)
	}
	r.say("Ctrl+C on the console: graceful stop, exit 0, lock released (%d ms)", time.Since(t0).Milliseconds())
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
