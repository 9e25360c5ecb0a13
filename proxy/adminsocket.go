package proxy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clearway/clearway/internal/peercred"
	"github.com/clearway/clearway/internal/privdir"
)

// The admin socket: on Linux and macOS the CLI reaches the running instance
// over a unix socket (Options.AdminSocket) instead of the TCP port, which
// another local user could squat while clearway is stopped. The socket sits
// in a 0700 folder, is itself 0600, and every connection's peer uid is
// checked (internal/peercred): connections from another user are closed
// before a byte is read. It serves only the /_clearway/ endpoints; the
// browser-facing ones stay on TCP with their auth.

// serveAdminSocket listens on path and serves the admin endpoints until the
// returned stop is called. A stale socket left by a killed instance is
// removed (the caller holds the instance lock, so no live one uses it);
// anything else at path is refused.
func (s *Server) serveAdminSocket(path string) (stop func(), err error) {
	if !peercred.Supported {
		return nil, peercred.ErrUnsupported
	}
	if _, err := privdir.Ensure(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; remove it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	pl := &peercred.Listener{Listener: ln, UID: os.Geteuid(), Refused: func(uid int, err error) {
		if ok, n := s.refusals.allow("socket-peer"); ok {
			s.log.Warn("refused a connection on the admin socket from another user", "peer_uid", uid, "err", err, "suppressed", n)
		}
	}}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/"+adminPrefix+"/") {
				writeError(w, r, http.StatusNotFound, errNotFound, "the admin socket serves /"+adminPrefix+"/ only; the proxy is on TCP")
				return
			}
			s.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: s.cfg.Timeouts.ReadHeader,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(pl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("admin socket stopped", "path", path, "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if hs.Shutdown(ctx) != nil {
			_ = hs.Close()
		}
		<-done
		_ = os.Remove(path)
	}, nil
}

// AdminSocket returns the path of the admin socket while it serves, "" when
// there is none (not asked for, not supported, or it could not listen).
func (s *Server) AdminSocket() string {
	if p := s.socket.Load(); p != nil {
		return *p
	}
	return ""
}
