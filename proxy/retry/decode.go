package retry

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// MaxDecodedBody caps what DecodeBody returns (256 KiB), so a small compressed
// body cannot expand into a decompression bomb.
const MaxDecodedBody = 256 << 10

// DecodeBody undoes the Content-Encoding of a peeked, possibly truncated body
// prefix so that markers can be looked for in it. It understands gzip, x-gzip,
// deflate (zlib-wrapped, or raw as some servers send it), br, zstd and
// identity (every coding the clients clearway serves ask for: Claude Code
// sends "gzip, deflate, br, zstd"), and
// lists of them ("gzip, br": the last applied is undone first).
//
// It returns whatever decodes: a truncated or corrupt stream yields the output
// produced before the damage was detected (for corruption, which deflate only
// notices at a checksum, that may end in garbage). A layer that yields nothing (the body was not
// really encoded, or an encoding it does not know, such as compress) leaves the
// bytes as they are, so a mislabelled plain body can still be read. The result
// never exceeds MaxDecodedBody bytes; it may share memory with body. DecodeBody
// is safe for concurrent use.
func DecodeBody(contentEncoding string, body []byte) []byte {
	out := body
	codings := strings.Split(contentEncoding, ",")
	for i := len(codings) - 1; i >= 0; i-- {
		decoded, ok := decodeOne(strings.ToLower(strings.TrimSpace(codings[i])), out)
		if !ok || len(decoded) == 0 {
			break
		}
		out = decoded
	}
	if len(out) > MaxDecodedBody {
		out = out[:MaxDecodedBody]
	}
	return out
}

// zstdMaxWindow bounds the window a zstd frame may ask for (8 MiB, the
// RFC 8878 recommendation for HTTP); a larger one is refused, not allocated.
const zstdMaxWindow = 8 << 20

// NewDecoder returns a streaming reader that undoes one content coding
// (gzip, x-gzip, deflate (zlib-wrapped), br, zstd) of r, with the same bounds
// DecodeBody uses. ok is false for identity and codings it does not know.
// Close releases the decoder (zstd's goroutine-free state); it does not close
// r. This is clearway's one body decoder: DecodeBody and the usage meter both
// read through it.
func NewDecoder(coding string, r io.Reader) (rc io.ReadCloser, ok bool, err error) {
	switch coding {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, true, err
		}
		return zr, true, nil
	case "deflate":
		zr, err := zlib.NewReader(r)
		if err != nil {
			return nil, true, err
		}
		return zr, true, nil
	case "br":
		return io.NopCloser(brotli.NewReader(r)), true, nil
	case "zstd":
		// Streaming (not DecodeAll), so a truncated prefix still yields its
		// decodable part; one goroutine and a bounded window, so a hostile
		// frame cannot make it allocate much.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, true, err
		}
		return zstdCloser{zr}, true, nil
	default:
		return nil, false, nil
	}
}

type zstdCloser struct{ *zstd.Decoder }

func (z zstdCloser) Close() error { z.Decoder.Close(); return nil }

// decodeOne undoes one content coding. ok is false for identity and for
// codings it does not know.
func decodeOne(coding string, b []byte) (out []byte, ok bool) {
	if coding == "deflate" {
		// RFC 9110 deflate is zlib-wrapped; some servers send raw deflate.
		// A valid zlib header decides: falling back to raw deflate on a
		// truncated zlib stream would decode its header as garbage.
		if zr, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
			return readCapped(zr), true
		}
		return readCapped(flate.NewReader(bytes.NewReader(b))), true
	}
	rc, ok, err := NewDecoder(coding, bytes.NewReader(b))
	if !ok || err != nil {
		return nil, ok
	}
	defer rc.Close()
	return readCapped(rc), true
}

// readCapped reads up to MaxDecodedBody bytes and keeps what was read before
// any error: a truncated prefix still gives its decodable part.
func readCapped(r io.Reader) []byte {
	out, _ := io.ReadAll(io.LimitReader(r, MaxDecodedBody)) // a partial result is the point
	return out
}
