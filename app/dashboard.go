package app

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/keychain"
)

// Dashboard is the web dashboard as the app wires it into every proxy
// build: its pages, its browser sessions for the admin API, and one-time
// login links. main passes package dashboard's handler (app does not
// import the dashboard). Implementations are safe for concurrent use.
type Dashboard interface {
	http.Handler
	proxy.BrowserSessions
	// LoginLink returns a one-time login link under base ("http://addr")
	// and when it expires.
	LoginLink(base string) (url string, expires time.Time)
}

// maxSecretBytes bounds a key sent to PUT /_clearway/key/{name}.
const maxSecretBytes = 64 << 10

// dashboardOptions wires the dashboard into a proxy server's options: its
// pages, its sessions for the admin API, and the application's endpoints the
// page (and the CLI) use. srv is filled once the server is built; the
// endpoints run only while it serves.
func (a *App) dashboardOptions(opts *proxy.Options, srv **proxy.Server) {
	if a.dash == nil {
		return
	}
	opts.Dashboard = a.dash
	opts.Browser = a.dash
	opts.Routes = append(opts.Routes,
		proxy.Route{Method: "POST", Path: api.PathUICode, Handler: func(w http.ResponseWriter, r *http.Request) {
			base := "http://" + r.Host
			if *srv != nil {
				base = "http://" + (*srv).Addr()
			}
			url, expires := a.dash.LoginLink(base)
			proxy.WriteJSON(w, http.StatusOK, api.UICode{URL: url, Expires: expires})
		}},
		proxy.Route{Method: "PUT", Path: api.PathKey, Handler: func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			b, err := io.ReadAll(io.LimitReader(r.Body, maxSecretBytes+1))
			secret := strings.TrimSpace(string(b))
			switch {
			case err != nil || len(b) > maxSecretBytes:
				proxy.WriteRouteError(w, r, http.StatusRequestEntityTooLarge, "the key is unreadable or larger than 64 KiB")
			case keychain.ValidName(name) != nil:
				proxy.WriteRouteError(w, r, http.StatusBadRequest, keychain.ValidName(name).Error())
			case secret == "":
				proxy.WriteRouteError(w, r, http.StatusBadRequest, "the key is empty")
			default:
				if err := a.SetKey(name, secret); err != nil {
					proxy.WriteRouteError(w, r, http.StatusServiceUnavailable, "keychain: "+err.Error())
					return
				}
				proxy.WriteJSON(w, http.StatusOK, map[string]string{"set": name})
			}
		}},
		proxy.Route{Method: "DELETE", Path: api.PathKey, Handler: func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if err := a.DeleteKey(name); err != nil && !errors.Is(err, keychain.ErrNotFound) {
				proxy.WriteRouteError(w, r, http.StatusServiceUnavailable, "keychain: "+err.Error())
				return
			}
			proxy.WriteJSON(w, http.StatusOK, map[string]string{"deleted": name})
		}},
		proxy.Route{Method: "POST", Path: api.PathToken, Handler: func(w http.ResponseWriter, r *http.Request) {
			tok, err := keychain.RotateClientTokenOrFile(a.keys, a.paths.TokenFile())
			if err != nil {
				proxy.WriteRouteError(w, r, http.StatusServiceUnavailable, "keychain: "+err.Error())
				return
			}
			if *srv != nil {
				if err := (*srv).ReloadKeys(); err != nil {
					proxy.WriteRouteError(w, r, http.StatusServiceUnavailable, "the new token is stored but not in use yet (restart clearway): "+err.Error())
					return
				}
			}
			proxy.WriteJSON(w, http.StatusOK, api.TokenRotated{Token: tok.Value})
		}},
		proxy.Route{Method: "GET", Path: api.PathSettings, Handler: func(w http.ResponseWriter, r *http.Request) {
			proxy.WriteJSON(w, http.StatusOK, a.settings())
		}},
		proxy.Route{Method: "POST", Path: api.PathSettings, Handler: func(w http.ResponseWriter, r *http.Request) {
			var s api.Settings
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&s); err != nil {
				proxy.WriteRouteError(w, r, http.StatusBadRequest, "settings: "+err.Error())
				return
			}
			for _, p := range []struct {
				pref view.Pref
				on   *bool
			}{{view.Notifications, s.Notifications}, {view.StartAtLogin, s.Autostart}} {
				if p.on == nil {
					continue
				}
				if err := a.SetPreference(p.pref, *p.on); err != nil {
					proxy.WriteRouteError(w, r, http.StatusConflict, p.pref.String()+": "+err.Error())
					return
				}
			}
			proxy.WriteJSON(w, http.StatusOK, a.settings())
		}},
	)
}

// settings is what GET /_clearway/settings shows.
func (a *App) settings() api.Settings {
	snap, _ := a.Snapshot()
	notes, login := snap.Notifications, snap.StartAtLogin
	check := "ok"
	if _, err := config.Load(a.cfg.Source); err != nil && a.cfg.Source != config.EmbeddedSource {
		check = err.Error()
	}
	return api.Settings{Notifications: &notes, Autostart: &login, ConfigPath: ConfigShown(a.cfg), ConfigCheck: check}
}

// DashboardURL returns a one-time login link to the running proxy's
// dashboard; an error while the proxy does not serve.
func (a *App) DashboardURL() (string, error) {
	lst, _ := a.lc.State()
	ps := proxyOf(lst.Server)
	if ps == nil || a.dash == nil {
		return "", errors.New("the proxy is not running: start it first")
	}
	url, _ := a.dash.LoginLink("http://" + ps.Addr())
	return url, nil
}

// ledgerWritten is how many rows the ledger has written (0 without one).
func (a *App) ledgerWritten() uint64 {
	if a.ledger == nil {
		return 0
	}
	return a.ledger.Stats().Written
}

// todayUsage is the ledger's count since local midnight, which the ledger
// keeps as it writes (no query). Zero without a ledger or until it has
// read the day's earlier rows.
func (a *App) todayUsage() view.Usage {
	if a.ledger == nil {
		return view.Usage{}
	}
	t, _ := a.ledger.Today(time.Now())
	return view.Usage{Requests: t.Requests, Tokens: t.InputTokens + t.OutputTokens + t.CacheReadTokens + t.CacheWriteTokens, CostUSD: t.CostUSD}
}
