package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/cookiejar"
)

// TestKillLoopWithTheRealBinary SIGKILLs `clearway serve` at random moments
// while an upstream churns its cookies on every answer, and checks after each
// kill that the jar file loads as it is (never moved aside as corrupt). The
// store's own kill loop (proxy/cookiejar) does 100 kills of a churning child;
// this one proves the same of the shipped binary. CLEARWAY_E2E_KILLS sets the
// count (default 100, as the issue asks of CI).
func TestKillLoopWithTheRealBinary(t *testing.T) {
	kills := 100
	if v, err := strconv.Atoi(os.Getenv("CLEARWAY_E2E_KILLS")); err == nil && v > 0 {
		kills = v
	}
	var n atomic.Int64
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		for k := range 5 {
			http.SetCookie(w, &http.Cookie{Name: fmt.Sprintf("churn%d", k), Value: fmt.Sprintf("v%d-%d", i, k), Path: "/", MaxAge: 3600, Secure: true})
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer up.Close()
	sb := newSandbox(t)
	sb.trust(up)
	sb.writeConfig(strings.ReplaceAll(strings.Replace(gateYAML, "cookie_save_delay: 500ms", "cookie_save_delay: 10ms", 1), "%s", up.URL))
	deadline := time.Now().Add(3 * time.Minute)
	loaded, withCookies := 0, 0
	for i := 0; i < kills && time.Now().Before(deadline); i++ {
		p := sb.serve()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(p.url("/cf/x"))
				if err != nil {
					return // the process is gone
				}
				resp.Body.Close()
			}
		}()
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond) // the random moment of the kill
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		p.done <- nil
		close(stop)
		<-done

		store, err := cookiejar.Open(cookiejar.Options{Path: sb.cookieFile()})
		if err != nil {
			t.Fatalf("kill %d: %v", i+1, err)
		}
		if store.Jar("cf").Len() > 0 {
			withCookies++
		}
		_ = store.Close()
		if corrupt, _ := filepath.Glob(sb.cookieFile() + ".corrupt-*"); len(corrupt) > 0 {
			t.Fatalf("kill %d left a file that does not load (moved aside: %v)", i+1, corrupt)
		}
		loaded++
	}
	t.Logf("kill loop with the real binary: %d SIGKILLs, %d loads succeeded (%d with cookies on disk), %d upstream answers", loaded, loaded, withCookies, n.Load())
	if loaded < kills {
		t.Fatalf("only %d of %d kills within the time bound", loaded, kills)
	}
	if withCookies == 0 {
		t.Fatal("no cookie ever reached the disk: the loop proved nothing")
	}
}
