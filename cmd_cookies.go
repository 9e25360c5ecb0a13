package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/internal/atomicfile"
	"github.com/clearway/clearway/proxy"
	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/cookiejar"
)

// cmdCookies lists, clears, imports and exports the cookie jars: through the
// running instance when there is one (so the live jar and the file stay one),
// else on the file directly, holding the instance lock meanwhile.
func cmdCookies(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New("cookies: want list, clear, import FILE or export FILE")}
	}
	sub := args[0]
	fs := flag.NewFlagSet("cookies "+sub, flag.ContinueOnError)
	showValues := fs.Bool("show-values", false, "print cookie values too (they are secrets: keep them out of logs)")
	asJSON := fs.Bool("json", false, "print JSON")
	unpinUA := fs.Bool("unpin-ua", false, "clear: also forget the pinned User-Agent (the next client's is pinned instead)")
	if err := fs.Parse(reorderFlags(args[1:])); err != nil {
		return &exitError{2, err}
	}
	rest := fs.Args()
	cfg, err := config.Load("")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		names = append(names, u.Name)
	}
	upstreamArg := func() (string, error) {
		if len(rest) == 0 {
			return "", nil
		}
		if len(rest) > 1 {
			return "", &exitError{2, fmt.Errorf("cookies %s takes at most one UPSTREAM", sub)}
		}
		if _, ok := cfg.Upstream(rest[0]); !ok {
			return "", fmt.Errorf("no upstream called %q (known: %s)", rest[0], strings.Join(names, ", "))
		}
		return rest[0], nil
	}
	fileArg := func() (string, error) {
		if len(rest) != 1 {
			return "", &exitError{2, fmt.Errorf("usage: clearway cookies %s FILE", sub)}
		}
		return rest[0], nil
	}
	running, err := runningInstance(cfg)
	if err != nil && !errors.Is(err, errNotRunning) {
		return err
	}

	switch sub {
	case "list":
		up, err := upstreamArg()
		if err != nil {
			return err
		}
		var entries []proxy.CookieEntry
		if running != nil {
			ctx, cancel := adminCtx()
			defer cancel()
			if entries, err = running.Cookies(ctx, up, *showValues); err != nil {
				return err
			}
		} else if err := offline(cfg, func(s *cookiejar.Store) { entries = proxy.ListCookies(s, names, up, *showValues) }); err != nil {
			return err
		}
		return printCookies(stdout, entries, *showValues, *asJSON)
	case "clear":
		up, err := upstreamArg()
		if err != nil {
			return err
		}
		var res api.ClearResult
		if running != nil {
			ctx, cancel := adminCtx()
			defer cancel()
			if res, err = running.ClearCookies(ctx, up, *unpinUA); err != nil {
				return err
			}
		} else if err := offline(cfg, func(s *cookiejar.Store) {
			res.Cleared = proxy.ClearCookies(s, names, up)
			if *unpinUA {
				s.Unpin(up)
			}
		}); err != nil {
			return err
		}
		what := "every upstream"
		if up != "" {
			what = up
		}
		fmt.Fprintf(stdout, "cleared %d cookie(s) of %s\n", res.Cleared, what)
		if *unpinUA {
			fmt.Fprintf(stdout, "forgot the pinned User-Agent of %s: the next client's is pinned\n", what)
		} else {
			fmt.Fprintln(stdout, "the pinned User-Agent stays (the next clearance is bound to it); --unpin-ua forgets it")
		}
		return nil
	case "import":
		path, err := fileArg()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		recs, perr := cookiejar.ParseNetscape(bytes.NewReader(data))
		if perr != nil && len(recs) == 0 {
			return fmt.Errorf("%s: %w", path, perr)
		}
		if perr != nil {
			fmt.Fprintf(stdout, "warning: %s: skipped lines that are not cookies: %v\n", path, perr)
		}
		var res api.ImportResult
		if running != nil {
			ctx, cancel := adminCtx()
			defer cancel()
			if res, err = running.ImportCookies(ctx, bytes.NewReader(data)); err != nil {
				return err
			}
		} else if err := offline(cfg, func(s *cookiejar.Store) {
			res.Imported, res.Unmatched = proxy.ImportCookies(s, cfg.Upstreams, recs)
		}); err != nil {
			return err
		}
		ups := make([]string, 0, len(res.Imported))
		for u, n := range res.Imported {
			ups = append(ups, fmt.Sprintf("%s: %d", u, n))
		}
		sort.Strings(ups)
		fmt.Fprintf(stdout, "imported %d cookie(s) from %s (%s); %d matched no upstream\n", len(recs)-res.Unmatched, path, strings.Join(ups, ", "), res.Unmatched)
		fmt.Fprintln(stdout, "note: a Cloudflare clearance only works with the User-Agent of the browser that earned it: set user_agent for the upstream in the config")
		return nil
	case "export":
		path, err := fileArg()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if running != nil {
			ctx, cancel := adminCtx()
			defer cancel()
			if err := running.ExportCookies(ctx, &buf); err != nil {
				return err
			}
		} else {
			var werr error
			if err := offline(cfg, func(s *cookiejar.Store) { werr = cookiejar.WriteNetscape(&buf, proxy.ExportCookies(s, names)) }); err != nil {
				return err
			}
			if werr != nil {
				return werr
			}
		}
		if err := atomicfile.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported cookies to %s (mode 0600)\n", path)
		return nil
	default:
		return &exitError{2, fmt.Errorf("cookies: unknown subcommand %q", sub)}
	}
}

// offline runs fn on the cookie file while holding the instance lock, then
// saves.
func offline(cfg *config.Config, fn func(*cookiejar.Store)) error {
	return app.WithCookies(cfg, app.DefaultPaths(), fn)
}

func printCookies(w io.Writer, entries []proxy.CookieEntry, values, asJSON bool) error {
	if asJSON {
		return writeIndentedJSON(w, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintln(w, "no cookies")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "UPSTREAM\tNAME\tDOMAIN\tEXPIRES"
	if values {
		head += "\tVALUE"
	}
	fmt.Fprintln(tw, head)
	for _, e := range entries {
		exp := "session"
		if e.Expires != nil {
			exp = e.Expires.Local().Format(time.DateTime)
		}
		line := fmt.Sprintf("%s\t%s\t%s\t%s", e.Upstream, e.Name, e.Domain, exp)
		if values {
			line += "\t" + e.Value
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// reorderFlags moves flags after positional arguments to the front, so that
// `cookies list anthropic --show-values` works as users expect.
func reorderFlags(args []string) []string {
	var flags, pos []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}
