package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// machine describes where and how the benchmark ran.
type machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpu_model"`
	Kernel       string `json:"kernel"`
	GoVersion    string `json:"go_version"`
	Nginx        string `json:"nginx,omitempty"`
	Date         string `json:"date"`
	Command      string `json:"command"`
	Pinning      string `json:"pinning"`
	LoadAvgStart string `json:"loadavg_start"`
	LoadAvgEnd   string `json:"loadavg_end"`
	Elapsed      string `json:"elapsed"`
}

// runConfig is the part of the configuration that shapes the figures.
type runConfig struct {
	Rounds         int    `json:"rounds"`
	Duration       string `json:"duration_per_scenario"`
	Warmup         string `json:"warmup"`
	SSEEvents      int    `json:"sse_events"`
	SSEGap         string `json:"sse_gap"`
	RequestBody    int    `json:"request_body_bytes"`
	ResponseBody   int    `json:"response_body_bytes"`
	StartupRepeats int    `json:"startups_per_round"`
}

// aggregate is the summary of one figure of one target in one scenario.
type aggregate struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Metric   string `json:"metric"`
	// Mode is "value", "ratio" (to direct, paired per round) or "added" (minus direct, paired per round).
	Mode   string `json:"mode"`
	Spread spread `json:"spread"`
}

// profileEntry is one scenario measured once more with perf attached.
type profileEntry struct {
	Target   string             `json:"target"`
	Scenario string             `json:"scenario"`
	Units    float64            `json:"units"`           // requests or streams completed
	CPU      float64            `json:"cpu_us_per_unit"` // under perf: a little higher than without
	PerUnit  map[string]float64 `json:"per_unit"`        // perf stat counters divided by Units
	Report   string             `json:"report"`          // perf report text file
}

// report is the whole result: what ran, every sample, and the summaries.
type report struct {
	Machine    machine     `json:"machine"`
	Config     runConfig   `json:"config"`
	Targets    []string    `json:"targets"`
	Scenarios  []scenario  `json:"scenarios"`
	Samples    []sample    `json:"samples"`
	Aggregates []aggregate `json:"aggregates"`
	// Profiles holds the -perf pass, measured after the rounds and not part of the figures.
	Profiles []profileEntry `json:"profiles,omitempty"`

	index map[string]spread
}

// describeMachine says where and how the benchmark runs.
func describeMachine(cfg *config) machine {
	m := machine{
		CPUs:         countCPUs(),
		CPUModel:     cpuModel(),
		Kernel:       readTrim("/proc/sys/kernel/osrelease"),
		GoVersion:    runtime.Version(),
		Date:         time.Now().UTC().Format(time.RFC3339),
		Command:      "go run ./build/bench " + strings.Join(cfg.args, " "),
		LoadAvgStart: readLoadAvg(),
	}
	switch {
	case cfg.pin && cfg.layout == "split":
		m.Pinning = fmt.Sprintf("layout split: load generator on CPU 0, mock upstream and proxy (all its threads/processes) share CPU %s; Go processes therefore run with GOMAXPROCS=1", cfg.proxyCPU)
	case cfg.pin:
		m.Pinning = fmt.Sprintf("layout proxy-alone: load generator + mock upstream on CPU 0, proxy (all its threads/processes) on CPU %s; Go processes therefore run with GOMAXPROCS=1", cfg.proxyCPU)
	default:
		m.Pinning = "none (fewer than 2 CPUs, no taskset, or -pin=false)"
	}
	if bin := lookPathOr(cfg.nginxBin); bin != "" {
		if out, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
			m.Nginx = strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
		}
	}
	return m
}

// describeConfig extracts the figures-shaping part of cfg.
func describeConfig(cfg *config) runConfig {
	return runConfig{
		Rounds: cfg.rounds, Duration: cfg.duration.String(), Warmup: cfg.warmup.String(),
		SSEEvents: cfg.sseEvents, SSEGap: cfg.sseGap.String(), RequestBody: cfg.reqBody,
		ResponseBody: jsonBodySize, StartupRepeats: cfg.startupRepeats,
	}
}

// countCPUs counts the machine's processors (the harness itself is pinned,
// so runtime.NumCPU would say 1).
func countCPUs() int {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "processor") {
			n++
		}
	}
	return n
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// readTrim reads a small file, trimmed; "unknown" when unreadable.
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// readLoadAvg returns the three load averages of /proc/loadavg.
func readLoadAvg() string {
	f := strings.Fields(readTrim("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// key indexes aggregates.
func key(scenario, target, metric, mode string) string {
	return scenario + "|" + target + "|" + metric + "|" + mode
}

// aggregate computes, for every scenario, target and metric, the spread over
// rounds of the value and, against direct in the same round, of the ratio and
// the difference.
func (r *report) aggregate() {
	r.index = map[string]spread{}
	r.Aggregates = nil
	type sk struct{ scenario, target string }
	byRound := map[sk]map[int]sample{}
	for _, s := range r.Samples {
		k := sk{s.Scenario, s.Target}
		if byRound[k] == nil {
			byRound[k] = map[int]sample{}
		}
		byRound[k][s.Round] = s
	}
	for _, sc := range r.Scenarios {
		for _, t := range r.Targets {
			rounds := byRound[sk{sc.Name, t}]
			if len(rounds) == 0 {
				continue
			}
			metrics := map[string]bool{}
			for _, s := range rounds {
				for m := range s.Metrics {
					metrics[m] = true
				}
			}
			for m := range metrics {
				var vals, ratios, added []float64
				for round, s := range rounds {
					v, ok := s.Metrics[m]
					if !ok {
						continue
					}
					vals = append(vals, v)
					d, ok := byRound[sk{sc.Name, "direct"}][round].Metrics[m]
					if !ok || t == "direct" {
						continue
					}
					added = append(added, v-d)
					if d != 0 {
						ratios = append(ratios, v/d)
					}
				}
				r.put(sc.Name, t, m, "value", vals)
				r.put(sc.Name, t, m, "ratio", ratios)
				r.put(sc.Name, t, m, "added", added)
			}
		}
	}
}

// put records the spread of vals, if any.
func (r *report) put(scenario, target, metric, mode string, vals []float64) {
	if len(vals) == 0 {
		return
	}
	s := summarize(vals)
	r.index[key(scenario, target, metric, mode)] = s
	r.Aggregates = append(r.Aggregates, aggregate{Scenario: scenario, Target: target, Metric: metric, Mode: mode, Spread: s})
}

// get returns an aggregate and whether it exists.
func (r *report) get(scenario, target, metric, mode string) (spread, bool) {
	s, ok := r.index[key(scenario, target, metric, mode)]
	return s, ok
}

// errorsOf sums the errors of one target over every sample.
func (r *report) errorsOf(target string) int {
	n := 0
	for _, s := range r.Samples {
		if s.Target == target {
			n += s.Errors
		}
	}
	return n
}

// column is one figure of a scenario table.
type column struct {
	header string
	metric string
	mode   string // value, ratio, added, sum
	digits int
	// higherBetter is the direction used to compare clearway with stock.
	higherBetter bool
}

// columns lists the table columns of each scenario kind.
func columns(k scenarioKind) []column {
	switch k {
	case kindJSON:
		return []column{
			{"req/s", mRPS, "value", 0, true},
			{"ratio to direct", mRPS, "ratio", 2, true},
			{"p50 µs", mP50, "value", 0, false},
			{"added p50 µs", mP50, "added", 0, false},
			{"added p99 µs", mP99, "added", 0, false},
			{"proxy CPU µs/req", mCPU, "value", 1, false},
			{"peak RSS MiB", mPeakRSS, "value", 1, false},
			{"anon RSS at end MiB", mAnonRSS, "value", 1, false},
			{"errors", mErrors, "sum", 0, false},
		}
	case kindSSE:
		return []column{
			{"streams/s", mRPS, "value", 0, true},
			{"ratio to direct", mRPS, "ratio", 2, true},
			{"TTFE p50 µs", mTTFEP50, "value", 0, false},
			{"added TTFE p50 µs", mTTFEP50, "added", 0, false},
			{"added delay/event p50 µs", mDelayP50, "added", 1, false},
			{"added delay/event p99 µs", mDelayP99, "added", 0, false},
			{"proxy CPU µs/stream", mCPU, "value", 0, false},
			{"peak RSS MiB", mPeakRSS, "value", 1, false},
			{"events got/sent", mEventsGot, "events", 0, true},
			{"errors", mErrors, "sum", 0, false},
		}
	case kindReal:
		return []column{
			{"streams/s", mRPS, "value", 1, true},
			{"TTFE p50 µs", mTTFEP50, "value", 0, false},
			{"added TTFB p50 µs", mOverP50, "added", 0, false},
			{"added TTFB p99 µs", mOverP99, "added", 0, false},
			{"added delay/event p50 µs", mDelayP50, "added", 1, false},
			{"added delay/event p99 µs", mDelayP99, "added", 0, false},
			{"proxy CPU µs/stream", mCPU, "value", 0, false},
			{"peak RSS MiB", mPeakRSS, "value", 1, false},
			{"events got/sent", mEventsGot, "events", 0, true},
			{"errors", mErrors, "sum", 0, false},
		}
	case kindOpen:
		return []column{
			{"time to open all ms", mOpenMS, "value", 0, false},
			{"RSS all open MiB", mOpenRSS, "value", 1, false},
			{"peak RSS MiB", mPeakRSS, "value", 1, false},
			{"proxy CPU µs/stream", mCPU, "value", 0, false},
			{"events got/sent", mEventsGot, "events", 0, true},
			{"errors", mErrors, "sum", 0, false},
		}
	case kindStartup:
		return []column{
			{"exec to first 200 ms", mStartupMS, "value", 1, false},
			{"RSS after 1st request MiB", mIdleRSS, "value", 1, false},
			{"anon RSS after 1st request MiB", mIdleAnon, "value", 1, false},
			{"errors", mErrors, "sum", 0, false},
		}
	}
	return nil
}

// sumMetric adds a metric over every round of one target and scenario.
func (r *report) sumMetric(scenario, target, metric string) (float64, bool) {
	var sum float64
	found := false
	for _, s := range r.Samples {
		if s.Scenario == scenario && s.Target == target {
			if v, ok := s.Metrics[metric]; ok {
				sum += v
				found = true
			}
		}
	}
	return sum, found
}

// cell formats one table cell.
func (r *report) cell(sc scenario, target string, c column) string {
	switch c.mode {
	case "sum":
		v, ok := r.sumMetric(sc.Name, target, c.metric)
		if !ok {
			return "n/a"
		}
		return fmt.Sprintf("%.0f", v)
	case "events":
		got, ok1 := r.sumMetric(sc.Name, target, mEventsGot)
		want, ok2 := r.sumMetric(sc.Name, target, mEventsWant)
		if !ok1 || !ok2 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f/%.0f", got, want)
	}
	s, ok := r.get(sc.Name, target, c.metric, c.mode)
	if !ok {
		return "n/a"
	}
	return formatSpread(s, c.digits, c.mode == "added")
}

// formatSpread writes "median (min–max)", with a sign for differences.
func formatSpread(s spread, digits int, signed bool) string {
	f := func(v float64) string {
		if signed {
			return fmt.Sprintf("%+.*f", digits, v)
		}
		return fmt.Sprintf("%.*f", digits, v)
	}
	if s.N == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s…%s)", f(s.Median), f(s.Min), f(s.Max))
}

// write writes the Markdown report to cfg.out (or standard output) and the
// JSON to cfg.jsonOut.
func (r *report) write(cfg *config) error {
	var w io.Writer = os.Stdout
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		defer f.Close()
		w = f
	}
	if err := r.markdown(w); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if cfg.jsonOut != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encode json: %w", err)
		}
		if err := os.WriteFile(cfg.jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	}
	return nil
}

// markdown renders the report.
func (r *report) markdown(w io.Writer) error {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# clearway benchmark results\n\n")
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Machine | %d CPUs, %s, Linux %s |\n", m.CPUs, m.CPUModel, m.Kernel)
	fmt.Fprintf(&b, "| Go | %s |\n", m.GoVersion)
	if m.Nginx != "" {
		fmt.Fprintf(&b, "| nginx | %s |\n", m.Nginx)
	}
	fmt.Fprintf(&b, "| Date | %s (took %s) |\n", m.Date, m.Elapsed)
	fmt.Fprintf(&b, "| Command | `%s` |\n", m.Command)
	fmt.Fprintf(&b, "| Pinning | %s |\n", m.Pinning)
	fmt.Fprintf(&b, "| Load average | %s at start, %s at end (other work on the machine makes figures noisy) |\n", m.LoadAvgStart, m.LoadAvgEnd)
	c := r.Config
	fmt.Fprintf(&b, "| Rounds | %d, target order rotated each round; %s measured per scenario after %s warm-up; a fresh proxy process per scenario |\n", c.Rounds, c.Duration, c.Warmup)
	fmt.Fprintf(&b, "| Requests | POST with a %d-byte JSON body; answer %d bytes JSON, or SSE of %d events (~190 bytes each) |\n\n", c.RequestBody, c.ResponseBody, c.SSEEvents)
	b.WriteString("Cells: median over rounds (min…max). Ratios and added figures are paired with direct in the same round. ")
	b.WriteString("Proxy CPU is utime+stime of the proxy's processes from /proc/PID/stat over the measured phase, divided by completed requests or streams. ")
	b.WriteString("Peak RSS is VmHWM (nginx: master + worker); anon RSS is RssAnon, without the executable's mapped pages. Any failed request, or a stream missing or reordering an event, is an error.\n\n")

	r.goals(&b)
	for _, sc := range r.Scenarios {
		cols := columns(sc.Kind)
		fmt.Fprintf(&b, "## %s (`%s`)\n\n| target |", sc.Title, sc.Name)
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", c.header)
		}
		b.WriteString("\n|---|")
		for range cols {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
		for _, t := range r.Targets {
			if sc.Kind == kindStartup && t == "direct" {
				continue
			}
			fmt.Fprintf(&b, "| %s |", t)
			for _, c := range cols {
				fmt.Fprintf(&b, " %s |", r.cell(sc, t, c))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	r.profileSection(&b)
	r.errorSection(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// profileSection writes the per-request system-call counts of the -perf pass.
func (r *report) profileSection(b *strings.Builder) {
	if len(r.Profiles) == 0 {
		return
	}
	b.WriteString("## Profile pass (perf, after the rounds; not part of the figures above)\n\n")
	b.WriteString("Counts per request (json-c50, json-c1) or per 50-event stream (sse-nogap), from `perf stat` tracepoints on the proxy's processes: exact, whatever the noise. The call-graph reports (`perf report` text) are written to the -perf directory.\n\n")
	b.WriteString("| scenario | target | CPU µs |")
	for _, g := range statGroups {
		fmt.Fprintf(b, " %s |", g.name)
	}
	b.WriteString(" perf report |\n|---|---|---:|")
	for range statGroups {
		b.WriteString("---:|")
	}
	b.WriteString("---|\n")
	for _, e := range r.Profiles {
		fmt.Fprintf(b, "| %s | %s | %.1f |", e.Scenario, e.Target, e.CPU)
		for _, g := range statGroups {
			sum, found := 0.0, false
			for _, ev := range g.events {
				if v, ok := e.PerUnit[ev]; ok {
					sum, found = sum+v, true
				}
			}
			if found {
				fmt.Fprintf(b, " %.2f |", sum)
			} else {
				b.WriteString(" n/a |")
			}
		}
		fmt.Fprintf(b, " `%s` |\n", filepath.Base(e.Report))
	}
	b.WriteString("\n")
}

// errorSection lists the first error messages of every sample with errors.
func (r *report) errorSection(b *strings.Builder) {
	truncated := false
	first := true
	for _, s := range r.Samples {
		if s.Errors == 0 {
			continue
		}
		if first {
			b.WriteString("## Errors\n\n")
			first = false
		}
		fmt.Fprintf(b, "- %s, %s, round %d: %d errors; first: %s\n", s.Target, s.Scenario, s.Round, s.Errors, strings.Join(s.ErrorSamples, " | "))
		for _, e := range s.ErrorSamples {
			if strings.Contains(e, "unexpected EOF") {
				truncated = true
			}
		}
	}
	if truncated {
		b.WriteString("\nStreams cut with `unexpected EOF` through a Go proxy are the known net/http limitation golang/go#40747: " +
			"the server closes the inbound request body when the response headers are written, the transport's final read of the " +
			"POST body then fails, and it tears down the upstream connection mid-stream. " +
			"`http.NewResponseController(w).EnableFullDuplex()` in the handler (or buffering the request body) avoids it.\n")
	}
	if !first {
		b.WriteString("\n")
	}
}

// goal is one target of issue 18 (performance with the new features on).
type goal struct {
	text     string
	scenario string
	metric   string
	mode     string
	limit    float64
	atLeast  bool   // the figure must be >= limit (else <=)
	relTo    string // when set, the limit is this target's median of the same figure
	digits   int
}

var goals = []goal{
	{"non-streaming c=50: ≥ 35% of direct throughput", "json-c50", mRPS, "ratio", 0.35, true, "", 2},
	{"non-streaming c=50: proxy CPU ≤ 45 µs/request", "json-c50", mCPU, "value", 45, false, "", 1},
	{"concurrency 1: added p50 ≤ +40 µs", "json-c1", mP50, "added", 40, false, "", 0},
	{"SSE no gap: ≥ 85% of direct streams/s", "sse-nogap", mRPS, "ratio", 0.85, true, "", 2},
	{"SSE 5 ms gaps: added time to first event p50 ≤ +200 µs", "sse-gap", mTTFEP50, "added", 200, false, "", 0},
	{"SSE 5 ms gaps: added delay per event p50 ≤ nginx's", "sse-gap", mDelayP50, "added", 0, false, "nginx", 1},
	{"peak RSS ≤ 16 MB (c=50)", "json-c50", mPeakRSS, "value", 16, false, "", 1},
	{"1,000 open streams: peak RSS ≤ stock's", "open-1000", mPeakRSS, "value", 0, false, "stock", 1},
	{"realistic: added time to first byte p50 (no goal; figure)", "realistic", mOverP50, "added", math.Inf(1), false, "", 0},
	{"realistic: added delay per event p50 (no goal; figure)", "realistic", mDelayP50, "added", math.Inf(1), false, "", 1},
}

// verdictTargets are the targets whose goals are judged, in column order.
var verdictTargets = []string{"clearway", "clearway-noledger"}

// noiseTolerance is how much worse than stock a clearway median may be before
// the "never worse than stock" goal lists it as missed.
const noiseTolerance = 0.05

// goals writes the issue-18 targets with the measured medians of each proxy
// and whether clearway (ledger on, and off) meets each.
func (r *report) goals(b *strings.Builder) {
	proxies := []string{}
	judged := []string{}
	for _, t := range r.Targets {
		if t != "direct" {
			proxies = append(proxies, t)
		}
	}
	for _, v := range verdictTargets {
		for _, t := range r.Targets {
			if t == v {
				judged = append(judged, v)
			}
		}
	}
	if len(proxies) == 0 {
		return
	}
	b.WriteString("## Goals (issue 18; medians)\n\n| goal |")
	for _, p := range proxies {
		fmt.Fprintf(b, " %s |", p)
	}
	for _, j := range judged {
		fmt.Fprintf(b, " %s meets it? |", j)
	}
	b.WriteString("\n|---|")
	for range proxies {
		b.WriteString("---:|")
	}
	for range judged {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, g := range goals {
		fmt.Fprintf(b, "| %s |", g.text)
		for _, p := range proxies {
			s, ok := r.get(g.scenario, p, g.metric, g.mode)
			if !ok {
				b.WriteString(" n/a |")
				continue
			}
			if g.mode == "added" {
				fmt.Fprintf(b, " %+.*f |", g.digits, s.Median)
			} else {
				fmt.Fprintf(b, " %.*f |", g.digits, s.Median)
			}
		}
		for _, j := range judged {
			fmt.Fprintf(b, " %s |", r.verdict(g, j))
		}
		b.WriteString("\n")
	}
	b.WriteString("| 0 errors, every event delivered |")
	for _, p := range proxies {
		fmt.Fprintf(b, " %d |", r.errorsOf(p))
	}
	for _, j := range judged {
		fmt.Fprintf(b, " %s |", map[bool]string{true: "yes", false: "**no**"}[r.errorsOf(j) == 0])
	}
	b.WriteString("\n")
	worse, compared := r.worseThanStock()
	b.WriteString("| never worse than stock httputil.ReverseProxy (median worse by > 5%) |")
	for range proxies {
		b.WriteString(" |")
	}
	var clear, overlap []string
	for _, w := range worse {
		if w.overlap {
			overlap = append(overlap, w.text)
		} else {
			clear = append(clear, w.text)
		}
	}
	verdict := " yes |"
	switch {
	case !compared:
		verdict = " not measured |"
	case len(worse) > 0:
		verdict = " **no**, see below |"
	}
	for k := range judged {
		if k == 0 {
			b.WriteString(verdict)
		} else {
			b.WriteString(" |")
		}
	}
	b.WriteString("\n\n")
	if len(clear) > 0 {
		b.WriteString("clearway worse than stock, min…max ranges apart (clearway vs stock): " + strings.Join(clear, "; ") + ".\n\n")
	}
	if len(overlap) > 0 {
		b.WriteString("clearway's median worse than stock's but the min…max ranges overlap (possibly noise): " + strings.Join(overlap, "; ") + ".\n\n")
	}
}

// verdict says whether target meets g: "yes", "**no**", "n/a" or "figure".
func (r *report) verdict(g goal, target string) string {
	s, ok := r.get(g.scenario, target, g.metric, g.mode)
	if !ok {
		return "not measured"
	}
	limit := g.limit
	if g.relTo != "" {
		ref, ok := r.get(g.scenario, g.relTo, g.metric, g.mode)
		if !ok {
			return g.relTo + " not measured"
		}
		limit = ref.Median
	}
	if math.IsInf(limit, 0) {
		return "(figure)"
	}
	met := s.Median <= limit
	if g.atLeast {
		met = s.Median >= limit
	}
	return map[bool]string{true: "yes", false: "**no**"}[met]
}

// worse is one figure where clearway's median is worse than stock's.
type worse struct {
	text    string
	overlap bool // the min…max ranges of the two overlap
}

// worseThanStock lists the table figures where clearway's median is worse
// than the stock proxy's by more than noiseTolerance.
func (r *report) worseThanStock() ([]worse, bool) {
	compared := false
	var out []worse
	for _, sc := range r.Scenarios {
		for _, c := range columns(sc.Kind) {
			if c.mode == "sum" || c.mode == "events" {
				continue
			}
			cw, ok1 := r.get(sc.Name, "clearway", c.metric, c.mode)
			st, ok2 := r.get(sc.Name, "stock", c.metric, c.mode)
			if !ok1 || !ok2 {
				continue
			}
			compared = true
			a, s := cw.Median, st.Median
			var bad bool
			if c.higherBetter {
				bad = a < s-math.Abs(s)*noiseTolerance
			} else {
				bad = a > s+math.Abs(s)*noiseTolerance
			}
			// Added latencies near zero: also require a difference of at least 2 µs.
			if c.mode == "added" && math.Abs(a-s) < 2 {
				bad = false
			}
			if bad {
				out = append(out, worse{
					text:    fmt.Sprintf("%s %s %.*f vs %.*f", sc.Name, c.header, c.digits, a, c.digits, s),
					overlap: cw.Min <= st.Max && st.Min <= cw.Max,
				})
			}
		}
	}
	return out, compared
}
