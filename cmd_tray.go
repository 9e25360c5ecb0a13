package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/tray"
)

// cmdApp is `clearway` with no arguments: the tray and the proxy, or the proxy
// alone when there is no tray to show.
func cmdApp(stderr io.Writer) error {
	cfg, err := config.Load("")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := tray.Available(); err != nil {
		fmt.Fprintf(stderr, "clearway: no tray available (%v); running headless on %s\n", err, cfg.Listen)
		return serveHeadless(ctx, cfg, stderr, true)
	}
	log, closeLog, err := app.NewLogger(stderr, cfg.LogLevel, app.DefaultPaths().Logs)
	if err != nil {
		return err
	}
	defer closeLog()
	a, err := app.Open(appOptions(cfg, log))
	if err != nil {
		return err
	}
	defer a.Close()
	// Start before the icon shows, as always: fyne.io/systray v1.12 loses a
	// tooltip set while it registers the icon.
	if err := a.Start(); err != nil {
		log.Warn("the proxy did not start; the tray shows why", "err", err)
	}
	return tray.Run(ctx, a, tray.Options{Logger: log, Diagnose: diagnose})
}

// appOptions wires the application for cfg: the desktop's start-at-login
// switch, the version, and the end-to-end tests' start hold.
func appOptions(cfg *config.Config, log *slog.Logger) app.Options {
	return app.Options{
		Config:      cfg,
		Logger:      log,
		Version:     shortVersion(),
		Autostart:   trayAutostart{},
		BeforeBuild: startHold(log),
		Dashboard:   newDashboard(log),
	}
}

// trayAutostart is the tray package's start-at-login switch for this executable.
type trayAutostart struct{}

func (trayAutostart) Enabled() bool { return tray.StartAtLogin() }

func (trayAutostart) Set(on bool) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return tray.SetStartAtLogin(on, exe)
}
