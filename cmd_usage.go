package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/clearway/clearway/app"
	"github.com/clearway/clearway/proxy/api"
	"github.com/clearway/clearway/proxy/ledger"
	usagepkg "github.com/clearway/clearway/proxy/usage"
)

// cmdUsage prints the usage ledger's sums: from the running instance when
// there is one (its queued rows included), else from the file, read-only.
func cmdUsage(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("usage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.String("since", "today", "since when: 24h, 7d, 30d, a date (2026-11-01), today or all")
	by := fs.String("by", "model", "group by day, model, client or upstream")
	asJSON := fs.Bool("json", false, "print JSON rows")
	asCSV := fs.Bool("csv", false, "print CSV rows")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("usage takes no arguments, got %q", fs.Args())}
	}
	if *asJSON && *asCSV {
		return &exitError{2, errors.New("usage: --json and --csv do not go together")}
	}
	valid := false
	for _, g := range usagepkg.Groupings {
		valid = valid || g == *by
	}
	if !valid {
		return &exitError{2, fmt.Errorf("usage --by %q: want day, model, client or upstream", *by)}
	}
	from, err := usagepkg.ParseSince(*since, time.Now())
	if err != nil {
		return &exitError{2, fmt.Errorf("usage --%w", err)}
	}
	ans, err := usageRows(*since, *by, from)
	if err != nil {
		return err
	}
	switch {
	case *asJSON:
		return writeIndentedJSON(stdout, ans.Rows)
	case *asCSV:
		return writeUsageCSV(stdout, ans)
	}
	return writeUsageTable(stdout, ans)
}

// usageRows asks the running instance, else reads the file.
func usageRows(since, by string, from time.Time) (api.Usage, error) {
	if c, err := runningInstance(nil); err == nil {
		ctx, cancel := adminCtx()
		defer cancel()
		ans, err := c.Usage(ctx, since, by)
		if err == nil {
			return ans, nil
		}
		// A ledger that is off in the running instance may still have a file.
		if _, ferr := readUsageFile(from, by); ferr != nil {
			return api.Usage{}, err
		}
	}
	return readUsageFile(from, by)
}

func readUsageFile(from time.Time, by string) (api.Usage, error) {
	path := app.UsagePath(app.DefaultPaths().Data)
	r, err := ledger.OpenReader(path)
	if errors.Is(err, ledger.ErrNoLedger) {
		return api.Usage{}, fmt.Errorf("no usage recorded yet (%s does not exist; clearway records every request it forwards)", path)
	}
	if err != nil {
		return api.Usage{}, err
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := r.Query(ctx, usagepkg.Query{Since: from, By: by})
	if err != nil {
		return api.Usage{}, fmt.Errorf("usage ledger %s: %w", path, err)
	}
	return api.Usage{Since: from, By: by, Rows: rows, Total: usagepkg.Sum(rows), PricesDate: usagepkg.PricesDate()}, nil
}

var usageColumns = []string{"requests", "errors", "retries", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd"}

func usageValues(r usagepkg.Row) []string {
	return []string{
		strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.Errors, 10), strconv.FormatInt(r.Retries, 10),
		strconv.FormatInt(r.InputTokens, 10), strconv.FormatInt(r.OutputTokens, 10),
		strconv.FormatInt(r.CacheReadTokens, 10), strconv.FormatInt(r.CacheWriteTokens, 10),
		strconv.FormatFloat(r.CostUSD, 'f', 6, 64),
	}
}

func writeUsageCSV(w io.Writer, ans api.Usage) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{ans.By}, usageColumns...))
	for _, r := range ans.Rows {
		_ = cw.Write(append([]string{r.Key()}, usageValues(r)...))
	}
	cw.Flush()
	return cw.Error()
}

func writeUsageTable(w io.Writer, ans api.Usage) error {
	span := "since " + ans.Since.Local().Format("2006-01-02 15:04")
	if ans.Since.IsZero() {
		span = "all recorded"
	}
	fmt.Fprintf(w, "Usage by %s, %s\n\n", ans.By, span)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tREQUESTS\tERRORS\tRETRIES\tINPUT\tOUTPUT\tCACHE READ\tCACHE WRITE\tCOST (est.)\t\n", upper(ans.By))
	line := func(key string, r usagepkg.Row) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t$%.2f\t\n", key, r.Requests, r.Errors, r.Retries,
			thousands(r.InputTokens), thousands(r.OutputTokens), thousands(r.CacheReadTokens), thousands(r.CacheWriteTokens), r.CostUSD)
	}
	for _, r := range ans.Rows {
		line(r.Key(), r)
	}
	line("TOTAL", ans.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ans.Rows) == 0 {
		fmt.Fprintln(w, "\nNo requests recorded in this period.")
	}
	fmt.Fprintf(w, "\nCosts are estimates from the price table of %s (override with prices: in the config).\n", ans.PricesDate)
	return nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// thousands writes n with comma separators (1,234,567).
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 || len(s) <= 3 {
		return s
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}
