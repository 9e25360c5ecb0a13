package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/proxy/usage"
)

// TestCopyBuffersGrowAndSettle: a stream starts with the small buffer, a
// read that fills it switches to the large one, and a short read after that
// switches back, first handing the meter the bytes still in the large
// buffer (Settle): scribbling over the large buffer afterwards must not
// change the usage the meter reads.
func TestCopyBuffersGrowAndSettle(t *testing.T) {
	head := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
	burst := strings.Repeat("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0}\n\n", 400) // 30,000 bytes: fills the small buffer, then one large-buffer read
	tail := "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":77}}\n\n"
	src := head + burst + tail
	m := usage.NewMeter("text/event-stream", "")
	body := m.Wrap(io.NopCloser(&pieces{list: []string{head, burst, tail}}))

	var bufs copyBuffers
	defer bufs.release()
	buf := bufs.first(true)
	if len(buf) != smallCopyBuf {
		t.Fatalf("a stream starts with %d bytes, want %d", len(buf), smallCopyBuf)
	}
	var out bytes.Buffer
	var sizes []int
	for {
		n, err := body.Read(buf)
		out.Write(buf[:n])
		sizes = append(sizes, len(buf))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		prev := buf
		buf = bufs.next(buf, n, body)
		if len(prev) == largeCopyBuf && len(buf) == smallCopyBuf {
			// The large buffer went back to the pool: another copy may
			// write over it at once.
			for i := range prev {
				prev[i] = 'x'
			}
		}
	}
	_ = body.Close()
	if out.String() != src {
		t.Fatal("the copied bytes differ from the body")
	}
	grew, shrank := false, false
	for i := 1; i < len(sizes); i++ {
		grew = grew || sizes[i-1] == smallCopyBuf && sizes[i] == largeCopyBuf
		shrank = shrank || sizes[i-1] == largeCopyBuf && sizes[i] == smallCopyBuf
	}
	if !grew || !shrank {
		t.Fatalf("buffer sizes %v: want a switch to the large buffer and back", sizes)
	}
	model, tok, ok := m.Result()
	if !ok || model != "m" || tok.Input != 5 || tok.Output != 77 {
		t.Fatalf("usage %q %+v %v, want m, 5 in, 77 out", model, tok, ok)
	}
}

// pieces reads its strings one after the other, a Read never returning
// bytes of two of them, as a network read returns what one write sent.
type pieces struct{ list []string }

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.list) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.list[0])
	if p.list[0] = p.list[0][n:]; p.list[0] == "" {
		p.list = p.list[1:]
	}
	return n, nil
}

// TestStreamBurstThenTrickle sends a stream through the proxy in lockstep:
// a small event, a burst of 100 KiB in one write, then a small event with
// the usage. Every byte must arrive unchanged and in order, each step
// before the upstream sends the next (so nothing is held back when the copy
// switches buffers), and the usage is read from the last event.
func TestStreamBurstThenTrickle(t *testing.T) {
	steps := []string{
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
		strings.Repeat("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"text\":\"0123456789\"}}\n\n", 1000),
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":123}}\n\n",
	}
	acks := make(chan int, 1)
	up := httptest.NewServer(&lockstepSSE{pieces: steps, acks: acks})
	defer up.Close()
	l := openLedger(t)
	tp := startProxy(t, retryConfig, up, withLedger(l))
	resp := tp.do(t, "POST", "/api/v1/messages", strings.NewReader(`{"stream":true}`), nil)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i, step := range steps {
		got := make([]byte, len(step))
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if string(got) != step {
			t.Fatalf("step %d: the bytes differ from what the upstream sent", i)
		}
		acks <- i
	}
	if rest, _ := io.ReadAll(br); len(rest) != 0 {
		t.Fatalf("%d bytes after the last event", len(rest))
	}
	waitFor(t, "the usage row", 5*time.Second, func() bool { l.Flush(); return rowsBy(t, l, "model")["claude-x"].Requests == 1 })
	if r := rowsBy(t, l, "model")["claude-x"]; r.InputTokens != 9 || r.OutputTokens != 123 {
		t.Errorf("row %+v, want 9 in, 123 out", r)
	}
}
