package main

import (
	"context"
	"fmt"
	"time"
)

// scenarioKind says how a scenario drives its target.
type scenarioKind int

const (
	kindJSON    scenarioKind = iota // non-streaming requests back to back
	kindSSE                         // whole event streams back to back
	kindOpen                        // many streams held open at once
	kindStartup                     // exec to first served request
	kindReal                        // Anthropic-shaped streams with a realistic time to first byte and pace
)

// MarshalText names the kind in the JSON output.
func (k scenarioKind) MarshalText() ([]byte, error) {
	switch k {
	case kindJSON:
		return []byte("json"), nil
	case kindSSE:
		return []byte("sse"), nil
	case kindOpen:
		return []byte("open-streams"), nil
	case kindStartup:
		return []byte("startup"), nil
	case kindReal:
		return []byte("realistic"), nil
	}
	return nil, fmt.Errorf("unknown scenario kind %d", int(k))
}

// UnmarshalText reads a name written by MarshalText.
func (k *scenarioKind) UnmarshalText(b []byte) error {
	for _, c := range []scenarioKind{kindJSON, kindSSE, kindOpen, kindStartup, kindReal} {
		if name, _ := c.MarshalText(); string(name) == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("unknown scenario kind %q", b)
}

// scenario is one measured situation.
type scenario struct {
	Name  string        `json:"name"`
	Title string        `json:"title"`
	Kind  scenarioKind  `json:"kind"`
	Conc  int           `json:"concurrency,omitempty"`
	Gap   time.Duration `json:"gap_ns,omitempty"`
}

// Metric keys of a sample. Times are in microseconds unless the key says ms;
// memory is in MiB (the kernel's kB divided by 1024).
const (
	mRequests   = "requests"         // requests or whole streams completed in the measured phase
	mRPS        = "rps"              // requests or streams per second
	mP50        = "p50_us"           // request latency
	mP99        = "p99_us"           //
	mTTFEP50    = "ttfe_p50_us"      // request start to first complete event
	mTTFEP99    = "ttfe_p99_us"      //
	mOverP50    = "ttfb_over_p50_us" // realistic: time to first event minus the upstream's scheduled time to first byte
	mOverP99    = "ttfb_over_p99_us" //
	mDelayP50   = "delay_p50_us"     // per event: arrival minus upstream send time
	mDelayP99   = "delay_p99_us"     //
	mCPU        = "cpu_us"           // proxy CPU (user+system) per request or stream
	mPeakRSS    = "peak_rss_mb"      // proxy VmHWM since its start
	mOpenRSS    = "open_rss_mb"      // proxy VmRSS while every stream is open
	mOpenMS     = "open_ms"          // time until every stream delivered its first event
	mStartupMS  = "startup_ms"       // exec to first 200 through the proxy
	mIdleRSS    = "idle_rss_mb"      // proxy VmHWM after its first request
	mAnonRSS    = "anon_rss_mb"      // proxy RssAnon at the end of the measured phase: its private memory, without the executable's mapped pages
	mIdleAnon   = "idle_anon_mb"     // proxy RssAnon after its first request
	mEventsWant = "events_want"      // events of every started stream
	mEventsGot  = "events_got"       // events delivered in order
	mErrors     = "errors"           // failed requests, truncated or dropped streams
	mOpened     = "streams_opened"   // open scenario: streams that got their first event
)

// scenarios returns the benchmark's scenarios for cfg, filtered by cfg.scenarios.
func scenarios(cfg *config) []scenario {
	all := []scenario{
		{Name: "json-c50", Title: fmt.Sprintf("Non-streaming JSON, concurrency %d", cfg.jsonConc), Kind: kindJSON, Conc: cfg.jsonConc},
		{Name: "json-c1", Title: "Non-streaming JSON, concurrency 1", Kind: kindJSON, Conc: 1},
		{Name: "sse-nogap", Title: fmt.Sprintf("SSE, %d events per stream, no gap, concurrency %d", cfg.sseEvents, cfg.sseConc), Kind: kindSSE, Conc: cfg.sseConc},
		{Name: "sse-gap", Title: fmt.Sprintf("SSE, %d events per stream, %v between events, concurrency %d", cfg.sseEvents, cfg.sseGap, cfg.sseConc), Kind: kindSSE, Conc: cfg.sseConc, Gap: cfg.sseGap},
	}
	all = append(all, scenario{Name: "realistic", Title: fmt.Sprintf("Realistic: Anthropic streams with usage, 100–500 ms to first byte, %d deltas %v apart, concurrency %d", cfg.realDeltas, cfg.realGap, cfg.sseConc), Kind: kindReal, Conc: cfg.sseConc, Gap: cfg.realGap})
	for _, n := range cfg.openCounts {
		all = append(all, scenario{Name: fmt.Sprintf("open-%d", n), Title: fmt.Sprintf("%d concurrent open streams", n), Kind: kindOpen, Conc: n})
	}
	all = append(all, scenario{Name: "startup", Title: "Start-up to first served request", Kind: kindStartup})
	if len(cfg.scenarios) == 0 {
		return all
	}
	var out []scenario
	for _, s := range all {
		for _, want := range cfg.scenarios {
			if s.Name == want {
				out = append(out, s)
			}
		}
	}
	return out
}

// sample is one measurement: one target, one scenario, one round.
type sample struct {
	Round        int                `json:"round"`
	Position     int                `json:"position"` // place of the target in this round's order, from 0
	Target       string             `json:"target"`
	Scenario     string             `json:"scenario"`
	At           time.Time          `json:"at"`
	Metrics      map[string]float64 `json:"metrics"`
	Errors       int                `json:"errors"`
	ErrorSamples []string           `json:"error_samples,omitempty"`
}

// runner measures scenarios against targets.
type runner struct {
	cfg         *config
	upstreamURL string
	body        []byte
	clkTck      float64
	profile     *profiler // nil unless -perf
}

// measure runs one scenario against one target and returns the sample; a
// failure to start the target is recorded as an error of the sample.
func (r *runner) measure(ctx context.Context, round, pos int, sc scenario, t target) (s sample) {
	s = sample{Round: round, Position: pos, Target: t.name(), Scenario: sc.Name, At: time.Now().UTC(), Metrics: map[string]float64{}}
	errs := &errorLog{}
	defer func() {
		s.Errors = errs.count
		s.ErrorSamples = errs.samples
		s.Metrics[mErrors] = float64(errs.count)
	}()

	if sc.Kind == kindStartup {
		r.measureStartup(ctx, t, &s, errs)
		return s
	}
	inst, err := t.start(ctx)
	if err != nil {
		errs.add("start: %v", err)
		return s
	}
	defer func() {
		if err := inst.stop(); err != nil {
			errs.add("stop: %v", err)
		}
	}()
	switch sc.Kind {
	case kindJSON:
		r.measureJSON(ctx, inst, sc, &s, errs)
	case kindSSE, kindReal:
		r.measureSSE(ctx, inst, sc, &s, errs)
	case kindOpen:
		r.measureOpen(ctx, inst, sc, &s, errs)
	}
	return s
}

// cpuWindow reads the proxy's CPU ticks at the start and end of a measured phase.
type cpuWindow struct {
	r      *runner
	inst   *instance
	start  uint64
	failed bool
}

// startCPU reads the proxy's CPU ticks at the start of a measured phase.
func (r *runner) startCPU(inst *instance, errs *errorLog) *cpuWindow {
	w := &cpuWindow{r: r, inst: inst}
	if inst.pid == 0 {
		return w
	}
	t, err := cpuTicks(inst.proxyPIDs())
	if err != nil {
		errs.add("cpu: %v", err)
		w.failed = true
	}
	w.start = t
	return w
}

// finish records the proxy's CPU microseconds per unit of work and its peak RSS.
func (w *cpuWindow) finish(units int, s *sample, errs *errorLog) {
	if w.inst.pid == 0 || w.failed {
		return
	}
	pids := w.inst.proxyPIDs()
	t, err := cpuTicks(pids)
	if err != nil {
		errs.add("cpu: %v", err)
		return
	}
	if units > 0 {
		s.Metrics[mCPU] = float64(t-w.start) / w.r.clkTck * 1e6 / float64(units)
	}
	hwm, err := sumStatusKB(pids, "VmHWM")
	if err != nil {
		errs.add("rss: %v", err)
		return
	}
	s.Metrics[mPeakRSS] = float64(hwm) / 1024
	if anon, err := sumStatusKB(pids, "RssAnon"); err == nil {
		s.Metrics[mAnonRSS] = float64(anon) / 1024
	}
}

// measureStartup starts the proxy startupRepeats times and keeps the median
// exec-to-first-200 time and the RSS after that first request.
func (r *runner) measureStartup(ctx context.Context, t target, s *sample, errs *errorLog) {
	if _, direct := t.(directTarget); direct {
		return
	}
	var startups []float64
	var idle, idleAnon []float64
	for k := 0; k < r.cfg.startupRepeats && ctx.Err() == nil; k++ {
		inst, err := t.start(ctx)
		if err != nil {
			errs.add("start: %v", err)
			continue
		}
		startups = append(startups, float64(inst.startup)/float64(time.Millisecond))
		if hwm, err := sumStatusKB(inst.proxyPIDs(), "VmHWM"); err == nil {
			idle = append(idle, float64(hwm)/1024)
		}
		if anon, err := sumStatusKB(inst.proxyPIDs(), "RssAnon"); err == nil {
			idleAnon = append(idleAnon, float64(anon)/1024)
		}
		if err := inst.stop(); err != nil {
			errs.add("stop: %v", err)
		}
	}
	if len(startups) > 0 {
		s.Metrics[mStartupMS] = summarize(startups).Median
	}
	if len(idle) > 0 {
		s.Metrics[mIdleRSS] = summarize(idle).Median
	}
	if len(idleAnon) > 0 {
		s.Metrics[mIdleAnon] = summarize(idleAnon).Median
	}
}

// measureJSON warms up, then measures non-streaming requests.
func (r *runner) measureJSON(ctx context.Context, inst *instance, sc scenario, s *sample, errs *errorLog) {
	client := inst.client(sc.Conc)
	defer client.CloseIdleConnections()
	url := inst.baseURL + "/json"
	runJSON(ctx, client, url, r.body, sc.Conc, r.cfg.warmup, errs)
	w := r.startCPU(inst, errs)
	stopProfile := r.profile.start(ctx, inst, sc)
	res := runJSON(ctx, client, url, r.body, sc.Conc, r.cfg.duration, errs)
	stopProfile()
	w.finish(res.requests, s, errs)
	s.Metrics[mRequests] = float64(res.requests)
	s.Metrics[mRPS] = float64(res.requests) / res.elapsed.Seconds()
	s.Metrics[mP50] = micros(percentile(res.latencies, 50))
	s.Metrics[mP99] = micros(percentile(res.latencies, 99))
}

// measureSSE warms up, then measures whole event streams.
func (r *runner) measureSSE(ctx context.Context, inst *instance, sc scenario, s *sample, errs *errorLog) {
	client := inst.client(sc.Conc)
	defer client.CloseIdleConnections()
	run := func(d time.Duration) sseResult {
		if sc.Kind == kindReal {
			return runRealistic(ctx, client, inst.baseURL, r.body, sc.Conc, r.cfg.realDeltas, sc.Gap, d, errs)
		}
		return runSSE(ctx, client, inst.baseURL, r.body, sc.Conc, r.cfg.sseEvents, sc.Gap, d, errs)
	}
	run(r.cfg.warmup)
	w := r.startCPU(inst, errs)
	stopProfile := r.profile.start(ctx, inst, sc)
	res := run(r.cfg.duration)
	stopProfile()
	w.finish(res.streams, s, errs)
	s.Metrics[mRequests] = float64(res.streams)
	s.Metrics[mRPS] = float64(res.streams) / res.elapsed.Seconds()
	s.Metrics[mTTFEP50] = micros(percentile(res.ttfe, 50))
	s.Metrics[mTTFEP99] = micros(percentile(res.ttfe, 99))
	if sc.Kind == kindReal {
		s.Metrics[mOverP50] = micros(percentile(res.over, 50))
		s.Metrics[mOverP99] = micros(percentile(res.over, 99))
	}
	s.Metrics[mDelayP50] = micros(percentile(res.delays, 50))
	s.Metrics[mDelayP99] = micros(percentile(res.delays, 99))
	s.Metrics[mEventsWant] = float64(res.eventsExpected)
	s.Metrics[mEventsGot] = float64(res.eventsGot)
}

// openStreamEvents is the number of events of each held stream: one before
// the hold, two after the release.
const openStreamEvents = 3

// measureOpen holds sc.Conc streams open at once and reads the proxy's memory.
func (r *runner) measureOpen(ctx context.Context, inst *instance, sc scenario, s *sample, errs *errorLog) {
	client := inst.client(sc.Conc)
	defer client.CloseIdleConnections()
	w := r.startCPU(inst, errs)
	whileOpen := func() {
		if inst.pid == 0 {
			return
		}
		rss, err := sumStatusKB(inst.proxyPIDs(), "VmRSS")
		if err != nil {
			errs.add("rss: %v", err)
			return
		}
		s.Metrics[mOpenRSS] = float64(rss) / 1024
	}
	res := runOpenStreams(ctx, client, inst.baseURL, r.upstreamURL, r.body, sc.Conc, openStreamEvents, whileOpen, errs)
	w.finish(res.completed, s, errs)
	s.Metrics[mRequests] = float64(res.completed)
	s.Metrics[mOpened] = float64(res.opened)
	s.Metrics[mOpenMS] = float64(res.openTime) / float64(time.Millisecond)
	s.Metrics[mEventsWant] = float64(sc.Conc * openStreamEvents)
	s.Metrics[mEventsGot] = float64(res.eventsGot)
	if res.opened != sc.Conc {
		errs.add("only %d of %d streams open at once", res.opened, sc.Conc)
	}
}
