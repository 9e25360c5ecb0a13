package usage

import (
	"os"
	"testing"
)

// FuzzMeterJSON feeds random and truncated JSON to the reader in random
// pieces: it must not panic, and results stay bounded and non-negative.
func FuzzMeterJSON(f *testing.F) {
	for _, name := range []string{"anthropic.json", "openai-chat.json"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b, uint8(3))
		f.Add(b[:len(b)/2], uint8(1))
	}
	f.Add([]byte(`{"usage":{"input_tokens":99999999999999999999999}}`), uint8(0))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, piece uint8) {
		model, tok, _ := meterPieces("application/json", "", body, int(piece))
		check(t, model, tok)
	})
}

// FuzzMeterSSE does the same for event streams. The gzip/br/zstd path runs
// the same readers behind a decoder goroutine and is exercised by
// TestEncodedGarbage. Note: on this target the Go 1.26 coordinator's
// execution count may stall at "0/sec" while the workers keep running
// (golang/go#51484); a marker written around each call showed every call
// returning.
func FuzzMeterSSE(f *testing.F) {
	for _, name := range []string{"anthropic.sse", "openai-chat.sse", "openai-responses.sse"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b, uint8(5))
		f.Add(b[:len(b)*2/3], uint8(1))
	}
	f.Add([]byte("event: message_delta\r\ndata: {\"usage\":\r\ndata: {\"output_tokens\":5}}\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, piece uint8) {
		model, tok, _ := meterPieces("text/event-stream", "", body, int(piece))
		check(t, model, tok)
	})
}

func check(t *testing.T, model string, tok Tokens) {
	if len(model) > maxStr {
		t.Fatalf("model of %d bytes kept", len(model))
	}
	if tok.Input < 0 || tok.Output < 0 || tok.CacheRead < 0 || tok.CacheWrite < 0 {
		t.Fatalf("negative tokens %+v", tok)
	}
}
