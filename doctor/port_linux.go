package doctor

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// portHolder finds the process listening on TCP port: the listening socket's
// inode from /proc/net/tcp{,6}, then the process with that socket among its
// file descriptors. Processes of other users are not visible without root;
// found is then false.
func portHolder(port string) (Holder, bool) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return Holder{}, false
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		listeningInodes(f, p, inodes)
	}
	if len(inodes) == 0 {
		return Holder{}, false
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, proc := range procs {
		fds, err := os.ReadDir(filepath.Join(proc, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(proc, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				pid, _ := strconv.Atoi(filepath.Base(proc))
				comm, _ := os.ReadFile(filepath.Join(proc, "comm"))
				return Holder{PID: pid, Name: strings.TrimSpace(string(comm))}, true
			}
		}
	}
	return Holder{}, false
}

// listeningInodes adds the inodes of the sockets in LISTEN state (0A) on port
// from one /proc/net/tcp file.
func listeningInodes(file string, port int, into map[string]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		i := strings.LastIndexByte(fields[1], ':')
		if i < 0 {
			continue
		}
		if lp, err := strconv.ParseUint(fields[1][i+1:], 16, 16); err == nil && int(lp) == port {
			into[fields[9]] = true
		}
	}
}
