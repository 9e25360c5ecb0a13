package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/tray"
)

// cmdServe runs the proxy headless in the foreground until SIGINT/SIGTERM.
func cmdServe(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (default $CLEARWAY_CONFIG or $XDG_CONFIG_HOME/clearway/config.yaml)")
	listen := fs.String("listen", "", "address to listen on, overriding the config (e.g. 127.0.0.1:8764)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("serve takes no arguments, got %q", fs.Args())}
	}
	cfg, err := loadConfig(*cfgPath, *listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveHeadless(ctx, cfg, stderr, false)
}

// loadConfig loads the config and applies a --listen override.
func loadConfig(path, listen string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if listen != "" {
		cfg.Listen = listen
		if err := cfg.CheckExposure(); err != nil {
			return nil, fmt.Errorf("--listen %s: %w", listen, err)
		}
	}
	return cfg, nil
}

// serveHeadless runs the proxy without a tray until ctx ends. With notify,
// desktop notifications are still shown when a notification server answers
// (a desktop session without a tray, such as GNOME without the
// AppIndicator extension).
func serveHeadless(ctx context.Context, cfg *config.Config, stderr io.Writer, notify bool) error {
	log, closeLog, err := app.NewLogger(stderr, cfg.LogLevel, app.DefaultPaths().Logs)
	if err != nil {
		return err
	}
	defer closeLog()
	log.Info("starting", "version", shortVersion(), "config", cfg.Source)
	a, err := app.Open(appOptions(cfg, log))
	if err != nil {
		return err
	}
	defer a.Close()
	if notify {
		notifyCtx, stopNotify := context.WithCancel(ctx)
		defer stopNotify()
		go tray.Notify(notifyCtx, a, log)
	}
	return a.Serve(ctx)
}
