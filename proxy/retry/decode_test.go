package retry_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/clearway/clearway/proxy/retry"
)

func TestDecodeBodyEncodings(t *testing.T) {
	plain := page(t, "cloudflare-1015.html")
	for _, tt := range []struct {
		name, encoding string
		body           []byte
	}{
		{"identity", "identity", plain},
		{"no encoding", "", plain},
		{"gzip", "gzip", gzipBytes(t, plain)},
		{"x-gzip", "x-gzip", gzipBytes(t, plain)},
		{"GZIP upper case", " GZIP ", gzipBytes(t, plain)},
		{"deflate (zlib)", "deflate", zlibBytes(t, plain)},
		{"deflate (raw)", "deflate", rawDeflateBytes(t, plain)},
		{"br", "br", brotliBytes(t, plain)},
		{"gzip then br", "gzip, br", brotliBytes(t, gzipBytes(t, plain))},
		{"br then gzip", "br,gzip", gzipBytes(t, brotliBytes(t, plain))},
		{"identity in a list", "identity, gzip", gzipBytes(t, plain)},
		{"mislabelled plain body", "gzip", plain},
		{"mislabelled plain body br", "br", plain},
		{"zstd", "zstd", zstdBytes(t, plain)},
		{"ZSTD upper case", "ZSTD", zstdBytes(t, plain)},
		{"gzip then zstd", "gzip, zstd", zstdBytes(t, gzipBytes(t, plain))},
		{"mislabelled plain body zstd", "zstd", plain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := retry.DecodeBody(tt.encoding, tt.body); !bytes.Equal(got, plain) {
				t.Errorf("DecodeBody(%q) = %d bytes %.60q..., want the %d-byte page", tt.encoding, len(got), got, len(plain))
			}
		})
	}
}

func TestDecodeBodyUnknownEncodingLeavesBytes(t *testing.T) {
	body := []byte{0x1f, 0x9d, 0x90, 1, 2, 3} // a unix compress (.Z) start
	if got := retry.DecodeBody("compress", body); !bytes.Equal(got, body) {
		t.Errorf("DecodeBody(compress) = %x, want the bytes unchanged %x", got, body)
	}
	if got := retry.DecodeBody("gzip", nil); len(got) != 0 {
		t.Errorf("DecodeBody(gzip, nil) = %q, want empty", got)
	}
}

// TestDecodeBodyZstdTruncated: a zstd frame cut anywhere never decodes to
// anything but a prefix of the page (or the raw bytes, when no block is
// whole yet), and decodes whole when it is.
func TestDecodeBodyZstdTruncated(t *testing.T) {
	plain := page(t, "cloudflare-1015.html")
	data := zstdBytes(t, plain)
	for cut := 0; cut < len(data); cut++ {
		got := retry.DecodeBody("zstd", data[:cut])
		if bytes.Equal(got, data[:cut]) {
			continue
		}
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("cut %d/%d: decoded %d bytes that are not a prefix of the page", cut, len(data), len(got))
		}
	}
	if got := retry.DecodeBody("zstd", data); !bytes.Equal(got, plain) {
		t.Fatalf("whole frame decoded to %d bytes, want %d", len(got), len(plain))
	}
	if kind := retry.CloudflareKind(hdr("Server", "cloudflare"), retry.DecodeBody("zstd", data)); kind != retry.Cloudflare1015 {
		t.Errorf("zstd 1015 page: CloudflareKind = %q", kind)
	}
}

// TestDecodeBodyTruncatedPrefixes cuts real compressed streams at every length,
// as a 64 KiB peek does, and checks that what decodes is always a prefix of the
// page and grows with the cut until it is whole.
func TestDecodeBodyTruncatedPrefixes(t *testing.T) {
	plain := page(t, "cloudflare-1015.html")
	for _, enc := range []struct {
		name string
		data []byte
	}{
		{"gzip", gzipBytes(t, plain)},
		{"br", brotliBytes(t, plain)},
		{"deflate", zlibBytes(t, plain)},
	} {
		t.Run(enc.name, func(t *testing.T) {
			prev := 0
			for cut := 0; cut <= len(enc.data); cut++ {
				got := retry.DecodeBody(enc.name, enc.data[:cut])
				if len(got) == cut && bytes.Equal(got, enc.data[:cut]) {
					continue // nothing decoded yet: the raw bytes come back unchanged
				}
				if !bytes.HasPrefix(plain, got) {
					t.Fatalf("cut %d/%d: decoded %d bytes that are not a prefix of the page", cut, len(enc.data), len(got))
				}
				if len(got) < prev {
					t.Fatalf("cut %d: decoded %d bytes, fewer than %d at a shorter cut", cut, len(got), prev)
				}
				prev = len(got)
			}
			if prev != len(plain) {
				t.Errorf("whole stream decoded to %d bytes, want %d", prev, len(plain))
			}
			half := retry.DecodeBody(enc.name, enc.data[:len(enc.data)*3/4])
			if len(half) < len(plain)/3 {
				t.Errorf("three quarters of the stream decoded to only %d of %d bytes", len(half), len(plain))
			}
		})
	}
}

func TestDecodeBodyBombIsCapped(t *testing.T) {
	zeros := make([]byte, 2<<20) // 2 MiB, 8 times the cap, compresses to a few KiB
	for _, enc := range []struct {
		name string
		data []byte
	}{
		{"gzip", gzipBytes(t, zeros)},
		{"br", brotliBytes(t, zeros)},
		{"deflate", zlibBytes(t, zeros)},
		{"zstd", zstdBytes(t, zeros)},
	} {
		if len(enc.data) > retry.PeekLimit {
			t.Fatalf("%s bomb is %d bytes, expected it to fit in a peek", enc.name, len(enc.data))
		}
		if got := retry.DecodeBody(enc.name, enc.data); len(got) != retry.MaxDecodedBody {
			t.Errorf("%s bomb decoded to %d bytes, want the cap %d", enc.name, len(got), retry.MaxDecodedBody)
		}
	}
	// Nested layers are capped too.
	nested := gzipBytes(t, gzipBytes(t, zeros))
	if got := retry.DecodeBody("gzip, gzip", nested); len(got) > retry.MaxDecodedBody {
		t.Errorf("nested bomb decoded to %d bytes, want at most %d", len(got), retry.MaxDecodedBody)
	}
	// A plain body larger than the cap is cut too.
	if got := retry.DecodeBody("", zeros); len(got) != retry.MaxDecodedBody {
		t.Errorf("plain 2 MiB body returned %d bytes, want %d", len(got), retry.MaxDecodedBody)
	}
}

func TestDecodeBodyCorruptStreamKeepsGoodPart(t *testing.T) {
	plain := page(t, "cloudflare-1200.html")
	gz := gzipBytes(t, plain)
	corrupt := append([]byte(nil), gz...)
	for i := len(corrupt) * 2 / 3; i < len(corrupt); i++ {
		corrupt[i] ^= 0x5a
	}
	// Deflate has no checksum before its end: the damage decodes to garbage,
	// but the part before it is intact and the marker can still be read.
	got := retry.DecodeBody("gzip", corrupt)
	common := 0
	for common < min(len(got), len(plain)) && got[common] == plain[common] {
		common++
	}
	if common < len(plain)/3 {
		t.Errorf("corrupt gzip: only %d of %d bytes decoded intact", common, len(plain))
	}
	if kind := retry.CloudflareKind(hdr("Server", "cloudflare"), got); kind != retry.Cloudflare1200 {
		t.Errorf("corrupt gzip: CloudflareKind = %q, want %q", kind, retry.Cloudflare1200)
	}
	// Random garbage labelled as each coding never panics and stays capped.
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 4096)
	for range 200 {
		for i := range junk {
			junk[i] = byte(rng.UintN(256))
		}
		for _, enc := range []string{"gzip", "br", "deflate", "zstd"} {
			if got := retry.DecodeBody(enc, junk); len(got) > retry.MaxDecodedBody {
				t.Fatalf("%s junk decoded to %d bytes", enc, len(got))
			}
		}
	}
}
