package usage

import (
	"io"
	"strings"

	"github.com/clearway/clearway/proxy/retry"
)

// maxDecoded caps how many decoded bytes of one answer are read for usage
// (64 MiB): past it the rest is drained unread, so a decompression bomb costs
// bounded CPU and no memory.
var maxDecoded int64 = 64 << 20

// decoder undoes a Content-Encoding for reading only. The standard
// decompressors pull from an io.Reader and their errors are sticky, so they
// cannot be fed piece by piece; a goroutine pulls through an io.Pipe instead.
// write blocks until the goroutine has taken the bytes (the caller's buffer is
// free again when it returns), which happens after the caller forwarded them,
// so nothing reaches the client later.
type decoder struct {
	pw   *io.PipeWriter
	done chan struct{}
}

// newDecoder starts a decoder for a Content-Encoding list ("gzip", "br",
// "gzip, br": the last applied is undone first) that hands decoded bytes to
// out. ok is false when a coding is not known (compress). The layers are
// undone by retry.NewDecoder, the one body decoder.
func newDecoder(contentEncoding string, out func([]byte)) (*decoder, bool) {
	codings := strings.Split(contentEncoding, ",")
	for i := range codings {
		codings[i] = strings.TrimSpace(codings[i])
		switch codings[i] {
		case "gzip", "x-gzip", "deflate", "br", "zstd", "identity", "":
		default:
			return nil, false
		}
	}
	pr, pw := io.Pipe()
	d := &decoder{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		var r io.Reader = pr
		var err error
		for i := len(codings) - 1; i >= 0 && err == nil; i-- {
			var rc io.ReadCloser
			var known bool
			if rc, known, err = retry.NewDecoder(codings[i], r); known && err == nil {
				defer rc.Close()
				r = rc
			}
		}
		if err == nil {
			buf := make([]byte, 8<<10)
			lr := io.LimitReader(r, maxDecoded)
			// A reader may return 0 bytes and no error; after 100 such
			// reads in a row it is given up on instead of spun on.
			for empty := 0; empty < 100; {
				n, rerr := lr.Read(buf)
				if n > 0 {
					out(buf[:n])
					empty = 0
				} else {
					empty++
				}
				if rerr != nil {
					break
				}
			}
		}
		// Whatever is left (corrupt, over the cap) is taken and dropped so
		// that write never blocks for good.
		_, _ = io.Copy(io.Discard, pr)
	}()
	return d, true
}

func (d *decoder) write(p []byte) { _, _ = d.pw.Write(p) }

// close ends the input and waits until every decoded byte was handed out.
func (d *decoder) close() {
	_ = d.pw.Close()
	<-d.done
}
