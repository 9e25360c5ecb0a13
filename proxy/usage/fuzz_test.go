package usage

import (
	"bytes"
	"compress/gzip"
	"os"
	"testing"
)

// FuzzMeterJSON feeds random and truncated JSON to the reader in random
// pieces: it must not panic, and results stay non-negative.
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

// FuzzMeterSSE does the same for event streams, plain and gzip-encoded.
func FuzzMeterSSE(f *testing.F) {
	for _, name := range []string{"anthropic.sse", "openai-chat.sse", "openai-responses.sse"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b, uint8(5), false)
		f.Add(b[:len(b)*2/3], uint8(1), true)
	}
	f.Add([]byte("event: message_delta\r\ndata: {\"usage\":\r\ndata: {\"output_tokens\":5}}\r\n\r\n"), uint8(1), false)
	f.Fuzz(func(t *testing.T, body []byte, piece uint8, gz bool) {
		enc := ""
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body, enc = b.Bytes(), "gzip"
		}
		model, tok, _ := meterPieces("text/event-stream", enc, body, int(piece))
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
