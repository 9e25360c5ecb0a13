package main

import (
	"log/slog"
	"time"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/dashboard"
)

// newDashboard builds the web dashboard for the app, or nil (said in the
// log) when it cannot be built: only a broken build gets there, the pages
// being embedded.
func newDashboard(log *slog.Logger) app.Dashboard {
	h, err := dashboard.New(dashboard.Options{Auth: dashboard.NewAuth(nil), Version: shortVersion(), Logger: log})
	if err != nil {
		log.Warn("dashboard unavailable", "err", err)
		return nil
	}
	return dashboardLinks{h}
}

// dashboardLinks is the dashboard's handler with the login links' lifetime.
type dashboardLinks struct{ *dashboard.Handler }

// LoginLink returns a one-time login link under base and when it expires.
func (d dashboardLinks) LoginLink(base string) (string, time.Time) {
	return d.LoginURL(base), time.Now().Add(dashboard.CodeTTL)
}
