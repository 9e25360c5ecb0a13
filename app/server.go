package app

import (
	"context"
	"errors"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/keychain"
)

// BuildProxy is the default Builder: a fresh proxy server over the app's
// cookie store, key store and bus (new sessions, the same persistent jars).
// It reads the client token from the keychain, which may take a while.
func (a *App) BuildProxy(ctx context.Context) (Server, error) {
	if a.beforeBuild != nil {
		a.beforeBuild()
	}
	tok, err := ClientToken(a.cfg, a.keys, a.paths.TokenFile())
	if err != nil {
		return nil, err
	}
	unreachable := tok.Why
	var keys keychain.Store = a.keys
	if tok.File != "" {
		a.tokenFileNotice(tok)
		keys = fileTokenKeys{Store: a.keys, file: tok.File}
	} else if !a.cfg.ClientToken && a.keys.Backend() == keychain.BackendKeyring {
		if _, err := a.keys.Get(keychain.ClientTokenName); keychain.Unreachable(err) {
			unreachable = keychainWhy(err)
		}
	}
	opts := proxy.Options{
		Config:  a.cfg,
		Cookies: a.store,
		Keys:    keys,
		// Without a keychain no key is set: the request gets the 401 that
		// says how to give one, not a keychain error.
		KeyNotFound: func(err error) bool {
			return errors.Is(err, keychain.ErrNotFound) || (unreachable != "" && keychain.Unreachable(err))
		},
		Token:       tok.Value,
		TokenName:   keychain.ClientTokenName,
		MissingKey:  MissingKeyHint(a.keys, unreachable),
		Bus:         a.bus,
		Logger:      a.log,
		Version:     a.version,
		AdminSocket: a.paths.Socket,
	}
	LedgerOptions(&opts, a.ledger)
	var srv *proxy.Server
	a.dashboardOptions(&opts, &srv)
	srv, err = proxy.New(opts)
	if err != nil {
		return nil, err
	}
	return &proxyServer{Server: srv, app: a}, nil
}

// tokenFileNotice says once per process, in one line, where the client token
// is kept and why it is not in the keychain.
func (a *App) tokenFileNotice(tok keychain.Token) {
	a.tokenNotice.Do(func() {
		a.log.Warn("client token: no keychain here ("+tok.Why+"); it is kept in "+tok.File+
			" (mode 0600; `clearway token` prints it); API keys still need the keychain or "+keychain.BackendVar+"=env",
			"file", tok.File)
	})
}

// fileTokenKeys is the key store the proxy reads while the client token lives
// in the fallback file: the token from there (so `clearway token --rotate`
// reaches the running proxy), the API keys from the store.
type fileTokenKeys struct {
	keychain.Store
	file string
}

// Get implements proxy.KeySource.
func (k fileTokenKeys) Get(name string) (string, error) {
	if name == keychain.ClientTokenName {
		tok, err := keychain.ClientTokenOrFile(k.Store, k.file)
		return tok.Value, err
	}
	return k.Store.Get(name)
}

// keychainWhy is an unreachable keychain's reason in a few words.
func keychainWhy(err error) string {
	if errors.Is(err, keychain.ErrNoBus) {
		return "no D-Bus session bus"
	}
	return "no Secret Service on the session bus"
}

// proxyServer is a proxy.Server that records its address in the instance
// file while it serves, so `clearway status` and friends find it.
type proxyServer struct {
	*proxy.Server
	app *App
}

// Run serves until ctx ends; see proxy.Server.Run.
func (s *proxyServer) Run(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.Server.Run(ctx) }()
	select {
	case <-s.Ready():
		if err := s.app.lock.SetEndpoints(s.Addr(), s.AdminSocket()); err != nil {
			s.app.log.Warn("could not record the address in the instance file", "err", err)
		}
	case err := <-done:
		return err
	}
	err := <-done
	_ = s.app.lock.SetEndpoints("", "")
	return err
}

// proxyOf returns the proxy behind a Server the default Builder built, or
// nil (a fake server in tests).
func proxyOf(s Server) *proxy.Server {
	if ps, ok := s.(*proxyServer); ok {
		return ps.Server
	}
	return nil
}

// Proxy returns the serving proxy server, or nil when none serves. The
// dashboard and the admin API read its status; stopping it is the
// Lifecycle's job.
func (a *App) Proxy() *proxy.Server {
	st, _ := a.lc.State()
	if st.Phase != view.Running {
		return nil
	}
	return proxyOf(st.Server)
}

// Serve runs the proxy headless until ctx ends (then stops it and returns
// nil) or until it fails (returning why): the port taken, the keychain
// unreadable, the server ending by itself.
func (a *App) Serve(ctx context.Context) error {
	if err := a.lc.Start(); err != nil {
		return err
	}
	for {
		st, next := a.lc.State()
		switch st.Phase {
		case view.Failed:
			return st.Err
		case view.Stopped:
			return nil
		}
		select {
		case <-ctx.Done():
			return a.lc.Stop()
		case <-next:
		}
	}
}
