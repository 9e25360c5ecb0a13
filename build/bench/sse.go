package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sseEvent is one event as the client saw it.
type sseEvent struct {
	index   int       // the "i" the upstream wrote
	sent    int64     // the upstream's wall clock when it wrote the event, Unix ns
	arrived time.Time // when the client had read the whole event
}

// readEvents parses a text/event-stream body and calls onEvent for each
// complete event (one ending in a blank line) whose data line carries "i"
// and "t". It returns at end of stream; a partial event at the end is an error.
func readEvents(r io.Reader, onEvent func(sseEvent) error) error {
	br := bufio.NewReaderSize(r, 8192)
	var (
		have    bool
		current sseEvent
		partial bool
	)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				if partial || len(line) > 0 {
					return errors.New("stream ended inside an event")
				}
				return nil
			}
			return fmt.Errorf("read stream: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if !partial {
				continue
			}
			if !have {
				return errors.New("event without i/t data")
			}
			current.arrived = time.Now()
			if err := onEvent(current); err != nil {
				return err
			}
			have, partial, current = false, false, sseEvent{}
			continue
		}
		partial = true
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			i, okI := jsonInt(data, `"i":`)
			t, okT := jsonInt(data, `"t":`)
			if !okI || !okT {
				return fmt.Errorf("event data %.60q lacks i or t", data)
			}
			current.index, current.sent, have = int(i), t, true
		}
	}
}

// jsonInt finds key (like `"i":`) in a flat JSON object and parses the
// integer after it; enough for the upstream's own event format.
func jsonInt(data []byte, key string) (int64, bool) {
	k := bytes.Index(data, []byte(key))
	if k < 0 {
		return 0, false
	}
	rest := data[k+len(key):]
	end := 0
	for end < len(rest) && (rest[end] == '-' || (rest[end] >= '0' && rest[end] <= '9')) {
		end++
	}
	v, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return v, err == nil
}

// streamStats collects one stream's figures.
type streamStats struct {
	ttfe   time.Duration   // request start to first complete event
	sched  time.Duration   // the upstream's scheduled time to first byte (realistic scenario)
	delays []time.Duration // per event: arrival minus upstream send time
}

// openStream POSTs to url and returns the response of an event stream, or an error.
func openStream(ctx context.Context, client *http.Client, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("x-api-key", "bench-client-key")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	return resp, nil
}

// runOneStream reads a whole /sse stream and checks it carries exactly n
// events numbered 0..n-1.
func runOneStream(ctx context.Context, client *http.Client, url string, body []byte, n int, st *streamStats) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	t0 := time.Now()
	resp, err := openStream(ctx, client, url, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	count := 0
	err = readEvents(resp.Body, func(ev sseEvent) error {
		if ev.index != count {
			return fmt.Errorf("event %d arrived as number %d", ev.index, count)
		}
		if count == 0 {
			st.ttfe = ev.arrived.Sub(t0)
		}
		st.delays = append(st.delays, ev.arrived.Sub(time.Unix(0, ev.sent)))
		count++
		return nil
	})
	if err != nil {
		return fmt.Errorf("after %d of %d events: %w", count, n, err)
	}
	if count != n {
		return fmt.Errorf("got %d events, want %d", count, n)
	}
	return nil
}

// sseResult is what one streaming run measured.
type sseResult struct {
	streams        int // streams completed with every event
	eventsExpected int // events of every started stream
	eventsGot      int // events delivered in order, including from failed streams
	elapsed        time.Duration
	ttfe           []time.Duration
	over           []time.Duration // per stream: time to first event minus the upstream's scheduled time to first byte
	delays         []time.Duration
}

// runSSE runs conc workers that each read /sse streams of n events with gap
// between them, back to back, until duration has passed.
func runSSE(ctx context.Context, client *http.Client, baseURL string, body []byte, conc, n int, gap, duration time.Duration, errs *errorLog) sseResult {
	url := fmt.Sprintf("%s/sse?n=%d&gap=%s", baseURL, n, gap)
	return runStreams(ctx, client, body, conc, n, duration, errs, func(*rand.Rand) (string, time.Duration) { return url, 0 })
}

// Realistic stream shape: the upstream's time to first byte is drawn
// uniformly from [realTTFBMin, realTTFBMax) for each stream.
const (
	realTTFBMin = 100 * time.Millisecond
	realTTFBMax = 500 * time.Millisecond
)

// realEvents is the number of events of a realistic stream of deltas deltas:
// message_start, content_block_start, the deltas, content_block_stop,
// message_delta and message_stop.
func realEvents(deltas int) int { return deltas + 5 }

// runRealistic runs conc workers that each read Anthropic-shaped /anthropic
// streams (usage in message_start and message_delta, deltas gap apart, a
// time to first byte of 100-500 ms) back to back until duration has passed.
// Each worker draws its times to first byte from its own seeded generator, so
// every target sees the same sequence.
func runRealistic(ctx context.Context, client *http.Client, baseURL string, body []byte, conc, deltas int, gap, duration time.Duration, errs *errorLog) sseResult {
	return runStreams(ctx, client, body, conc, realEvents(deltas), duration, errs, func(rng *rand.Rand) (string, time.Duration) {
		ttfb := realTTFBMin + time.Duration(rng.Int64N(int64(realTTFBMax-realTTFBMin)))
		ttfb = ttfb.Round(time.Millisecond)
		return fmt.Sprintf("%s/anthropic?ttfb=%s&n=%d&gap=%s", baseURL, ttfb, deltas, gap), ttfb
	})
}

// runStreams runs conc workers that each read streams of n events, from the
// URL urlFor gives (with the upstream's scheduled time to first byte), back
// to back, until duration has passed.
func runStreams(ctx context.Context, client *http.Client, body []byte, conc, n int, duration time.Duration, errs *errorLog, urlFor func(*rand.Rand) (string, time.Duration)) sseResult {
	start := time.Now()
	end := start.Add(duration)
	parts := make([]sseResult, conc)
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p := &parts[w]
			rng := rand.New(rand.NewPCG(uint64(w), 18))
			for ctx.Err() == nil && time.Now().Before(end) {
				var st streamStats
				st.delays = make([]time.Duration, 0, n)
				url, sched := urlFor(rng)
				st.sched = sched
				err := runOneStream(ctx, client, url, body, n, &st)
				p.eventsExpected += n
				p.eventsGot += len(st.delays)
				if err != nil {
					if ctx.Err() == nil {
						errs.add("stream: %v", err)
					}
					continue
				}
				p.streams++
				p.ttfe = append(p.ttfe, st.ttfe)
				p.over = append(p.over, st.ttfe-st.sched)
				p.delays = append(p.delays, st.delays...)
			}
		}(w)
	}
	wg.Wait()
	res := sseResult{elapsed: time.Since(start)}
	for _, p := range parts {
		res.streams += p.streams
		res.eventsExpected += p.eventsExpected
		res.eventsGot += p.eventsGot
		res.ttfe = append(res.ttfe, p.ttfe...)
		res.over = append(res.over, p.over...)
		res.delays = append(res.delays, p.delays...)
	}
	return res
}

// openResult is what one many-open-streams run measured.
type openResult struct {
	opened    int           // streams that delivered their first event while all were being held
	completed int           // streams that then delivered every event
	eventsGot int           // events delivered in order
	openTime  time.Duration // from the first request to the last first event
}

// openStreamsBatch is a process-unique batch id source for /hold.
var openStreamsBatch atomic.Int64

// runOpenStreams opens count streams at once through baseURL, waits until
// every one has delivered its first event (so all are open end to end), calls
// whileOpen, then releases them at the upstream and checks each delivers
// exactly events events.
func runOpenStreams(ctx context.Context, client *http.Client, baseURL, upstreamURL string, body []byte, count, events int, whileOpen func(), errs *errorLog) openResult {
	batch := fmt.Sprintf("b%d-%d", time.Now().UnixNano(), openStreamsBatch.Add(1))
	url := fmt.Sprintf("%s/hold?batch=%s&n=%d", baseURL, batch, events)
	ctx, cancel := context.WithTimeout(ctx, 2*requestTimeout)
	defer cancel()

	var opened, completed, eventsGot atomic.Int64
	firstSeen := make(chan struct{}, count)
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < count; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			signalled := false
			signal := func() {
				if !signalled {
					signalled = true
					firstSeen <- struct{}{}
				}
			}
			defer signal() // a failed stream still counts as "settled"
			resp, err := openStream(ctx, client, url, body)
			if err != nil {
				errs.add("open stream: %v", err)
				return
			}
			defer resp.Body.Close()
			got := 0
			err = readEvents(resp.Body, func(ev sseEvent) error {
				if ev.index != got {
					return fmt.Errorf("event %d arrived as number %d", ev.index, got)
				}
				got++
				eventsGot.Add(1)
				if got == 1 {
					opened.Add(1)
					signal()
				}
				return nil
			})
			switch {
			case err != nil:
				errs.add("open stream after %d of %d events: %v", got, events, err)
			case got != events:
				errs.add("open stream: got %d events, want %d", got, events)
			default:
				completed.Add(1)
			}
		}()
	}
	res := openResult{}
	settled := 0
wait:
	for settled < count {
		select {
		case <-firstSeen:
			settled++
		case <-ctx.Done():
			break wait
		}
	}
	res.openTime = time.Since(start)
	if whileOpen != nil {
		whileOpen()
	}
	if err := releaseBatch(ctx, upstreamURL, batch); err != nil {
		errs.add("release: %v", err)
		cancel()
	}
	wg.Wait()
	res.opened = int(opened.Load())
	res.completed = int(completed.Load())
	res.eventsGot = int(eventsGot.Load())
	return res
}

// releaseBatch tells the upstream to finish every held stream of batch.
func releaseBatch(ctx context.Context, upstreamURL, batch string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, upstreamURL+"/release?batch="+batch, nil)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("release: status %s", resp.Status)
	}
	return nil
}
