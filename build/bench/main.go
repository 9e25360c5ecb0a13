// Command bench measures what clearway costs a request, next to a direct
// connection to the upstream, nginx and a stock httputil.ReverseProxy, on
// loopback, in one run, alternating the order of the targets round by round.
//
// Run it from the repository root:
//
//	go run ./build/bench -rounds 5 -out build/bench/results.md
//
// See build/bench/README.md for the scenarios, figures and flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pinnedEnv marks the harness process as already running under taskset.
const pinnedEnv = "CLEARWAY_BENCH_PINNED"

// config is the harness's command line.
type config struct {
	rounds         int
	duration       time.Duration
	warmup         time.Duration
	quick          bool
	out            string
	jsonOut        string
	targets        []string
	scenarios      []string
	clearwayBin    string
	nginxBin       string
	ccrCLI         string
	pin            bool
	proxyCPU       string
	layout         string
	realDeltas     int
	realGap        time.Duration
	perfDir        string
	pprofDir       string
	keep           bool
	jsonConc       int
	sseConc        int
	sseEvents      int
	sseGap         time.Duration
	openCounts     []int
	startupRepeats int
	reqBody        int
	args           []string // the command line as given, for the report
}

// errBenchErrors says the run measured errors (failed requests, dropped or
// truncated streams, a target that did not start) through clearway or direct
// (the latter means the harness itself is broken): the exit status is 1.
// Errors of the reference proxies (nginx, stock) are reported, not fatal:
// they are facts about those proxies, not about clearway.
var errBenchErrors = errors.New("errors measured")

func main() {
	role := ""
	listen := ""
	for i, a := range os.Args[1:] {
		// The upstream role is internal: parse it before the harness flags.
		if a == "-role" && i+2 < len(os.Args) {
			role = os.Args[i+2]
		}
		if a == "-listen" && i+2 < len(os.Args) {
			listen = os.Args[i+2]
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if role == "upstream" {
		if err := runUpstreamRole(ctx, listen); err != nil {
			fmt.Fprintln(os.Stderr, "bench upstream:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := pinSelf(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if errors.Is(err, errBenchErrors) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

// parseFlags reads the command line.
func parseFlags(args []string) (*config, error) {
	cfg := &config{args: args}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&cfg.rounds, "rounds", 5, "rounds; every round measures every target on every scenario, in a rotated order")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "measured time of each load scenario (after -warmup)")
	fs.DurationVar(&cfg.warmup, "warmup", 500*time.Millisecond, "unmeasured load before each load scenario, on the same connections")
	fs.BoolVar(&cfg.quick, "quick", false, "CI smoke: 2 rounds, 250ms per scenario, 1 start-up per round (overrides -rounds, -duration, -warmup)")
	fs.StringVar(&cfg.out, "out", "", "write the Markdown report here (and raw JSON next to it, .json); default standard output")
	fs.StringVar(&cfg.jsonOut, "json", "", "write the raw JSON here (default: -out with .json)")
	targets := fs.String("targets", "direct,nginx,stock,clearway,clearway-noledger", "comma-separated targets: direct, nginx, stock, clearway, clearway-noledger (usage: {enabled: false}), ccr (claude-code-router, npm)")
	scens := fs.String("scenarios", "", "comma-separated scenarios (default all): json-c50, json-c1, sse-nogap, sse-gap, realistic, open-N, startup")
	fs.StringVar(&cfg.clearwayBin, "clearway", "", "clearway binary to measure (default: go build the repository root)")
	fs.StringVar(&cfg.nginxBin, "nginx", "nginx", "nginx binary")
	fs.StringVar(&cfg.ccrCLI, "ccr", "", "claude-code-router's CLI script (dist/cli.js of npm's @musistudio/claude-code-router) for the ccr target; default: the ccr on PATH")
	fs.BoolVar(&cfg.pin, "pin", true, "pin load generator and upstream to CPU 0 and the proxy to -proxy-cpu with taskset")
	fs.StringVar(&cfg.proxyCPU, "proxy-cpu", "1", "CPU list for the proxy when pinning; 0 puts everything on one core (no cross-core wake-ups)")
	fs.StringVar(&cfg.layout, "layout", "proxy-alone", "where the processes run when pinning: proxy-alone (load generator + upstream on CPU 0, proxy on -proxy-cpu: a local proxy in front of a remote API) or split (load generator on CPU 0, upstream + proxy on -proxy-cpu)")
	fs.IntVar(&cfg.realDeltas, "real-deltas", 20, "content_block_delta events per stream in the realistic scenario")
	fs.DurationVar(&cfg.realGap, "real-gap", 20*time.Millisecond, "time between content_block_delta events in the realistic scenario")
	fs.StringVar(&cfg.perfDir, "perf", "", "after the rounds, profile each proxy with `perf record` and `perf stat` on json-c50, json-c1 and sse-nogap into this directory")
	fs.StringVar(&cfg.pprofDir, "pprof", "", "build clearway with -tags benchprofile and write a Go CPU profile of every clearway process into this directory (LABEL-N.prof, N counting the target's starts)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory (configs, proxy logs)")
	fs.IntVar(&cfg.jsonConc, "c", 50, "concurrency of the high-concurrency non-streaming scenario")
	fs.IntVar(&cfg.sseConc, "sse-c", 20, "concurrency of the streaming scenarios")
	fs.IntVar(&cfg.sseEvents, "events", 50, "events per stream")
	fs.DurationVar(&cfg.sseGap, "gap", 5*time.Millisecond, "time between events in the sse-gap scenario")
	open := fs.String("open", "200,1000", "comma-separated counts of concurrently open streams")
	fs.IntVar(&cfg.startupRepeats, "startups", 3, "proxy starts per round in the start-up scenario (median kept)")
	fs.IntVar(&cfg.reqBody, "body", 512, "request body size in bytes (every request is a JSON POST)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go run ./build/bench [flags]   (from the repository root)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.quick {
		cfg.rounds, cfg.duration, cfg.warmup, cfg.startupRepeats = 2, 250*time.Millisecond, 100*time.Millisecond, 1
	}
	if cfg.layout != "proxy-alone" && cfg.layout != "split" {
		return nil, fmt.Errorf("unknown -layout %q (proxy-alone or split)", cfg.layout)
	}
	if cfg.realDeltas < 1 || cfg.realGap < 0 {
		return nil, errors.New("real-deltas must be positive and real-gap not negative")
	}
	if cfg.rounds < 1 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.jsonConc < 1 || cfg.sseConc < 1 || cfg.sseEvents < 1 || cfg.startupRepeats < 1 {
		return nil, errors.New("rounds, duration, c, sse-c, events and startups must be positive")
	}
	cfg.targets = splitList(*targets)
	for _, t := range cfg.targets {
		switch t {
		case "direct", "nginx", "stock", "clearway", "clearway-noledger", "ccr":
		default:
			return nil, fmt.Errorf("unknown target %q", t)
		}
	}
	if len(cfg.targets) == 0 {
		return nil, errors.New("no targets")
	}
	cfg.scenarios = splitList(*scens)
	for _, s := range splitList(*open) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad -open count %q", s)
		}
		cfg.openCounts = append(cfg.openCounts, n)
	}
	if cfg.pprofDir != "" {
		abs, err := filepath.Abs(cfg.pprofDir)
		if err != nil {
			return nil, err
		}
		cfg.pprofDir = abs
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, err
		}
	}
	if cfg.out != "" && cfg.jsonOut == "" {
		cfg.jsonOut = strings.TrimSuffix(cfg.out, filepath.Ext(cfg.out)) + ".json"
	}
	return cfg, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// pinSelf re-executes the harness under `taskset -c 0` (load generator and,
// inherited, the upstream on CPU 0), unless pinning is off, already done, or
// impossible (one CPU, no taskset), in which case cfg.pin becomes false.
func pinSelf(cfg *config) error {
	if !cfg.pin {
		return nil
	}
	if os.Getenv(pinnedEnv) == "1" {
		return nil
	}
	taskset := lookPathOr("taskset")
	if runtime.NumCPU() < 2 || taskset == "" {
		fmt.Fprintln(os.Stderr, "bench: WARNING: fewer than 2 CPUs or no taskset: running unpinned")
		cfg.pin = false
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("pin: %w", err)
	}
	argv := append([]string{"taskset", "-c", "0", exe}, os.Args[1:]...)
	env := append(os.Environ(), pinnedEnv+"=1")
	if err := syscall.Exec(taskset, argv, env); err != nil {
		return fmt.Errorf("pin: exec taskset: %w", err)
	}
	return nil
}

// run builds what it needs, measures every round and writes the report.
func run(ctx context.Context, cfg *config) error {
	began := time.Now()
	tmp, err := os.MkdirTemp("", "clearway-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		slog.Info("keeping temporary directory", "dir", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	pinProxy := ""
	if cfg.pin {
		pinProxy = cfg.proxyCPU
	}

	pinUpstream := ""
	if cfg.pin && cfg.layout == "split" {
		pinUpstream = cfg.proxyCPU
	}
	up, err := startUpstream(filepath.Join(tmp, "upstream.log"), pinUpstream)
	if err != nil {
		return err
	}
	defer func() {
		if err := up.stop(); err != nil {
			slog.Warn("upstream stop", "err", err)
		}
	}()

	var targets []target
	for _, name := range cfg.targets {
		t, err := makeTarget(ctx, cfg, name, up.url, tmp, pinProxy)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}

	r := &runner{cfg: cfg, upstreamURL: up.url, body: requestBody(cfg.reqBody), clkTck: float64(clockTicksPerSecond())}
	rep := &report{Machine: describeMachine(cfg), Config: describeConfig(cfg), Targets: cfg.targets, Scenarios: scenarios(cfg)}
	slog.Info("benchmark starting", "rounds", cfg.rounds, "targets", cfg.targets, "scenarios", len(rep.Scenarios), "pinned", cfg.pin)
	for round := 0; round < cfg.rounds && ctx.Err() == nil; round++ {
		order := rotate(targets, round)
		for _, sc := range rep.Scenarios {
			for pos, t := range order {
				if ctx.Err() != nil {
					break
				}
				s := r.measure(ctx, round, pos, sc, t)
				if sc.Kind == kindStartup && t.name() == "direct" {
					continue
				}
				rep.Samples = append(rep.Samples, s)
				logSample(s)
			}
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if cfg.perfDir != "" {
		entries, err := runProfiles(ctx, cfg, r, targets)
		if err != nil {
			slog.Warn("profiling failed", "err", err)
		}
		rep.Profiles = entries
	}
	rep.Machine.LoadAvgEnd = readLoadAvg()
	rep.Machine.Elapsed = time.Since(began).Round(time.Second).String()
	rep.aggregate()
	if err := rep.write(cfg); err != nil {
		return err
	}
	for _, t := range cfg.targets {
		if n := rep.errorsOf(t); n > 0 && !failsOnErrors(t) {
			slog.Warn("reference proxy had errors (reported, not failing the run)", "target", t, "errors", n)
		}
	}
	failing := 0
	for _, t := range cfg.targets {
		if failsOnErrors(t) {
			failing += rep.errorsOf(t)
		}
	}
	if failing > 0 {
		return fmt.Errorf("%w: %d through direct/clearway (see the errors columns and error_samples in the JSON)", errBenchErrors, failing)
	}
	return nil
}

// failsOnErrors says whether errors through target fail the run.
func failsOnErrors(target string) bool {
	return target == "direct" || target == "clearway" || target == "clearway-noledger"
}

// rotate returns targets rotated left by round, so every target takes every
// place in the order as rounds go by.
func rotate[T any](ts []T, round int) []T {
	k := round % len(ts)
	out := make([]T, 0, len(ts))
	out = append(out, ts[k:]...)
	return append(out, ts[:k]...)
}

// makeTarget prepares one target: builds the stock proxy and clearway, finds nginx.
func makeTarget(ctx context.Context, cfg *config, name, upstreamURL, tmp, pin string) (target, error) {
	switch name {
	case "direct":
		return directTarget{upstreamURL: upstreamURL}, nil
	case "stock":
		bin := filepath.Join(tmp, "stockproxy")
		if err := goBuild(ctx, bin, "./build/bench/stockproxy"); err != nil {
			return nil, err
		}
		return newStockTarget(bin, upstreamURL, tmp, pin), nil
	case "clearway":
		bin := cfg.clearwayBin
		if bin == "" {
			bin = filepath.Join(tmp, "clearway")
			if err := goBuild(ctx, bin, ".", clearwayTags(cfg)...); err != nil {
				return nil, err
			}
		}
		return newClearwayTarget(name, bin, upstreamURL, tmp, pin, true, cfg.pprofDir), nil
	case "clearway-noledger":
		bin := cfg.clearwayBin
		if bin == "" {
			bin = filepath.Join(tmp, "clearway")
			if _, err := os.Stat(bin); err != nil {
				if err := goBuild(ctx, bin, ".", clearwayTags(cfg)...); err != nil {
					return nil, err
				}
			}
		}
		return newClearwayTarget(name, bin, upstreamURL, tmp, pin, false, cfg.pprofDir), nil
	case "ccr":
		cli := cfg.ccrCLI
		if cli == "" {
			if p := lookPathOr("ccr"); p != "" {
				if real, err := filepath.EvalSymlinks(p); err == nil {
					cli = real
				}
			}
		}
		if cli == "" || lookPathOr("node") == "" {
			return nil, errors.New("ccr target: needs node and claude-code-router (npm install -g @musistudio/claude-code-router, or -ccr PATH/dist/cli.js)")
		}
		return newCCRTarget(cli, upstreamURL, tmp, pin), nil
	case "nginx":
		bin := lookPathOr(cfg.nginxBin)
		if bin == "" {
			return nil, fmt.Errorf("nginx target: %q not found (Debian: apt-get install nginx-light, or drop it with -targets)", cfg.nginxBin)
		}
		return newNginxTarget(bin, upstreamURL, tmp, pin), nil
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// goBuild builds pkg (relative to the module root) into out.
func goBuild(ctx context.Context, out, pkg string, flags ...string) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	slog.Info("building", "package", pkg, "out", out)
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build"}, flags...), "-o", out, pkg)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// clearwayTags are the build flags of the clearway binary the harness builds.
func clearwayTags(cfg *config) []string {
	if cfg.pprofDir != "" {
		return []string{"-tags", "benchprofile"}
	}
	return nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the clearway module: run from the repository root")
	}
	return filepath.Dir(mod), nil
}

// profiledScenarios are measured once more under perf by -perf.
var profiledScenarios = map[string]bool{"json-c50": true, "json-c1": true, "sse-nogap": true, "realistic": true}

// runProfiles measures the profiledScenarios once more per proxy with perf
// attached; these samples are not part of the report's figures.
func runProfiles(ctx context.Context, cfg *config, r *runner, targets []target) ([]profileEntry, error) {
	perf := lookPathOr("perf")
	if perf == "" {
		return nil, errors.New("perf not found")
	}
	if err := os.MkdirAll(cfg.perfDir, 0o755); err != nil {
		return nil, err
	}
	prof := &profiler{perf: perf, dir: cfg.perfDir}
	r.profile = prof
	defer func() { r.profile = nil }()
	var entries []profileEntry
	for _, sc := range scenarios(cfg) {
		if !profiledScenarios[sc.Name] {
			continue
		}
		for _, t := range targets {
			if t.name() == "direct" {
				continue
			}
			prof.target = t.name()
			s := r.measure(ctx, -1, 0, sc, t)
			e := profileEntry{Target: t.name(), Scenario: sc.Name, Units: s.Metrics[mRequests], CPU: s.Metrics[mCPU],
				Report: filepath.Join(cfg.perfDir, t.name()+"-"+sc.Name+".txt"), PerUnit: map[string]float64{}}
			for k, v := range prof.counts {
				if e.Units > 0 {
					e.PerUnit[k] = v / e.Units
				}
			}
			entries = append(entries, e)
			slog.Info("profiled", "target", t.name(), "scenario", sc.Name, "cpu_us", s.Metrics[mCPU], "errors", s.Errors)
		}
	}
	return entries, nil
}

// logSample prints one line of progress.
func logSample(s sample) {
	attrs := []any{"round", s.Round, "scenario", s.Scenario, "target", s.Target}
	for _, k := range []string{mRPS, mP50, mP99, mTTFEP50, mDelayP50, mCPU, mPeakRSS, mOpenRSS, mStartupMS} {
		if v, ok := s.Metrics[k]; ok {
			attrs = append(attrs, k, strconv.FormatFloat(v, 'f', 1, 64))
		}
	}
	attrs = append(attrs, "errors", s.Errors)
	if len(s.ErrorSamples) > 0 {
		attrs = append(attrs, "first_error", s.ErrorSamples[0])
	}
	slog.Info("sample", attrs...)
}
