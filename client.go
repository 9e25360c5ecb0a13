package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/internal/peercred"
	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/proxy/keychain"
)

// adminTimeout bounds every call of a command to the running instance.
const adminTimeout = 30 * time.Second

// errNotRunning is returned by runningInstance when no clearway holds the data folder.
var errNotRunning = errors.New("clearway is not running (start it with `clearway` or `clearway serve`)")

// runningInstance finds the running clearway for this data folder and returns
// the client of its admin API (package api: the one place the CLI's side of
// that API lives). It returns errNotRunning when there is none.
func runningInstance(_ *config.Config) (*api.Client, error) {
	info, err := instance.Read(app.DefaultPaths().Data)
	if errors.Is(err, instance.ErrNotRunning) {
		return nil, errNotRunning
	}
	if err != nil {
		return nil, err
	}
	if info.PID == 0 {
		return nil, errors.New("clearway is starting; try again in a moment")
	}
	if info.Addr == "" {
		return nil, fmt.Errorf("clearway (pid %d) is running but its proxy is stopped: click \"Start proxy\" in its tray menu, or quit it to work on the files directly", info.PID)
	}
	c := &api.Client{Base: "http://" + info.Addr, HTTP: &http.Client{Timeout: adminTimeout}}
	if info.Socket != "" && peercred.Supported {
		// The instance's admin socket: nobody else can squat it, and the
		// peer's uid is checked before a byte (or the token) is sent.
		c = &api.Client{Base: "http://localhost", HTTP: &http.Client{Timeout: adminTimeout, Transport: socketTransport(info.Socket)}}
	}
	// The running instance's own config decides, not the one this command
	// loaded (it may have been started with --config).
	if info.ClientToken {
		tok, err := keychain.ClientTokenOrFile(app.OpenKeychain(nil), app.DefaultPaths().TokenFile())
		if err != nil {
			return nil, fmt.Errorf("client token: %w", err)
		}
		c.Token = tok.Value
	}
	return c, nil
}

// socketTransport dials the unix socket at path and refuses a server that
// runs as another user.
func socketTransport(path string) *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, fmt.Errorf("the running clearway's socket %s: %w", path, err)
		}
		uid, err := peercred.UID(conn)
		if err != nil || uid != os.Geteuid() {
			conn.Close()
			return nil, fmt.Errorf("the socket %s is served by uid %d, not by you (uid %d): not talking to it (%v)", path, uid, os.Geteuid(), err)
		}
		return conn, nil
	}}
}

// adminCtx is the context of one command's calls to the running instance.
func adminCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), adminTimeout)
}
