package main

import (
	"fmt"
	"io"
	"os"

	"github.com/clearway/clearway/proxy/config"
)

// cmdConfig shows where the config is, the built-in default, or checks a file.
func cmdConfig(args []string, stdout io.Writer) error {
	sub := "path"
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "path":
		p := config.Path()
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(stdout, "%s (not there: the built-in default is in use; `clearway config default > %s` to start one)\n", p, p)
			return nil
		}
		fmt.Fprintln(stdout, p)
		return nil
	case "default":
		_, err := stdout.Write(config.DefaultYAML())
		return err
	case "check", "show":
		cfg, err := config.Load("")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok (listen %s, client_token %v, %d upstreams)\n", cfg.Source, cfg.Listen, cfg.ClientToken, len(cfg.Upstreams))
		for _, u := range cfg.Upstreams {
			fmt.Fprintf(stdout, "  %s -> %s (retries %d, key %q)\n", u.Name, u.URL, u.Retry.MaxRetries, u.Key)
		}
		return nil
	default:
		return &exitError{2, fmt.Errorf("config: unknown subcommand %q (want path, default or check)", sub)}
	}
}
