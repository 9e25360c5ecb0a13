// Command mkicns turns a square PNG (512 px or more is best) into a macOS
// .icns file with github.com/jackmordaunt/icns, which scales it down to every
// size the format holds. The upstream icnsify command is not served by the
// module proxy for v3, so this is the few lines it would be.
//
// Usage:
//
//	mkicns IN.png OUT.icns
package main

import (
	"fmt"
	"image/png"
	"os"

	"github.com/jackmordaunt/icns/v3"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkicns IN.png OUT.icns")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkicns:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	img, err := png.Decode(src)
	if err != nil {
		return fmt.Errorf("decode %s: %w", in, err)
	}
	if b := img.Bounds(); b.Dx() != b.Dy() {
		return fmt.Errorf("%s is %dx%d, want a square image", in, b.Dx(), b.Dy())
	}
	dst, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := icns.Encode(dst, img); err != nil {
		dst.Close()
		return fmt.Errorf("encode %s: %w", out, err)
	}
	return dst.Close()
}
