package retry_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// hdr builds a canonical http.Header from name/value pairs, as net/http
// delivers one.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// page reads a fixture from testdata/pages.
func page(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pages", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// The encoders keep large tables: pooling them keeps the fuzz targets fast.
var (
	gzipWriters   = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	zlibWriters   = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}
	flateWriters  = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.DefaultCompression); return w }}
	brotliWriters = sync.Pool{New: func() any { return brotli.NewWriterLevel(nil, brotli.DefaultCompression) }}
)

// resetWriter is what every compressing writer here offers.
type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// compress encodes b with a real encoder from pool.
func compress(t testing.TB, pool *sync.Pool, b []byte) []byte {
	t.Helper()
	w := pool.Get().(resetWriter)
	defer pool.Put(w)
	var buf bytes.Buffer
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Fast encoders, for fuzz targets that compress every input: still real
// streams, at a fraction of the cost.
var (
	fastGzipWriters   = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	fastZlibWriters   = sync.Pool{New: func() any { w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed); return w }}
	fastFlateWriters  = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	fastBrotliWriters = sync.Pool{New: func() any { return brotli.NewWriterLevel(nil, 1) }}
)

func gzipBytes(t testing.TB, b []byte) []byte       { return compress(t, &gzipWriters, b) }
func zlibBytes(t testing.TB, b []byte) []byte       { return compress(t, &zlibWriters, b) }
func rawDeflateBytes(t testing.TB, b []byte) []byte { return compress(t, &flateWriters, b) }
func brotliBytes(t testing.TB, b []byte) []byte     { return compress(t, &brotliWriters, b) }

// zstdBytes compresses b as one zstd frame, as a server answering
// "Accept-Encoding: zstd" does (klauspost/compress, the encoder Go servers use).
func zstdBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}
