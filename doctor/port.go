package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"syscall"

	"github.com/clearway/clearway/proxy/instance"
)

// Holder is a process listening on a TCP port. The zero value is an unknown
// process.
type Holder struct {
	PID  int
	Name string // the program's name, "" when unknown
}

func (h Holder) String() string {
	if h.Name == "" {
		return fmt.Sprintf("pid %d", h.PID)
	}
	return fmt.Sprintf("pid %d (%s)", h.PID, h.Name)
}

// checkPort: the listen address is free, or which process holds it (a
// running clearway: its pid and address).
func checkPort(_ context.Context, o *Options) []Result {
	r := Result{Name: "port"}
	if o.Config == nil {
		return []Result{{Name: "port", Status: Warn, Detail: "not checked: the config did not load", Fix: "fix the config first"}}
	}
	addr := o.Config.Listen
	var running instance.Info
	if o.DataDir != "" {
		if info, err := instance.Read(o.DataDir); err == nil {
			running = info
		}
	}
	if running.PID > 0 && running.Addr != "" && samePort(running.Addr, addr) {
		r.Status = OK
		r.Detail = fmt.Sprintf("%s is held by the running clearway (pid %d, serving on %s)", addr, running.PID, running.Addr)
		return []Result{r}
	}
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		_ = ln.Close()
		r.Status = OK
		r.Detail = addr + " is free"
		if running.PID > 0 {
			r.Detail += fmt.Sprintf(" (a clearway, pid %d, runs with its proxy stopped or on %s)", running.PID, orWord(running.Addr, "no address"))
		}
		return []Result{r}
	}
	r.Status = Fail
	r.Fix = fmt.Sprintf("stop that program, or give clearway another port (listen: in %s, or `clearway serve --listen 127.0.0.1:PORT`)", configFile(o))
	if !errors.Is(err, syscall.EADDRINUSE) && !isAddrInUse(err) {
		r.Detail = fmt.Sprintf("cannot listen on %s: %v", addr, err)
		r.Fix = fmt.Sprintf("set listen: in %s to a loopback address and free port, e.g. 127.0.0.1:8764", configFile(o))
		return []Result{r}
	}
	_, port, _ := net.SplitHostPort(addr)
	h, found := portHolder(port)
	switch {
	case found && running.PID > 0 && h.PID == running.PID:
		r.Status = OK
		r.Detail = fmt.Sprintf("%s is held by the running clearway (pid %d)", addr, running.PID)
		r.Fix = ""
	case found:
		r.Detail = fmt.Sprintf("%s is in use by another program: %s", addr, h)
	default:
		r.Detail = fmt.Sprintf("%s is in use by another program (%s)", addr, holderHint(port))
	}
	return []Result{r}
}

// holderHint says how to find a port's holder by hand.
func holderHint(port string) string {
	switch runtime.GOOS {
	case "windows":
		return "find it with `netstat -ano | findstr :" + port + "`"
	case "darwin":
		return "find it with `lsof -nP -iTCP:" + port + " -sTCP:LISTEN`"
	default:
		return "not visible to this user; find it with `sudo ss -ltnp 'sport = :" + port + "'`"
	}
}

func samePort(a, b string) bool {
	_, pa, errA := net.SplitHostPort(a)
	_, pb, errB := net.SplitHostPort(b)
	return errA == nil && errB == nil && pa == pb
}

func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}

func configFile(o *Options) string {
	if o.Config != nil && o.Config.Source != "" && o.Config.Source[0] != '(' {
		return o.Config.Source
	}
	return o.ConfigPath
}
