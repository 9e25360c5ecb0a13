package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/jackmordaunt/icns/v3"
)

// runICNS checks that an .icns file decodes and holds enough image sizes.
func runICNS(args []string) error {
	fs := flag.NewFlagSet("icns", flag.ContinueOnError)
	minSizes := fs.Int("min-sizes", 1, "require at least this many images")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("icns: want exactly one FILE")
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("icns: %w", err)
	}
	defer f.Close()
	descs, err := icns.Probe(f)
	if err != nil {
		return fmt.Errorf("icns: %s: %w", path, err)
	}
	for _, d := range descs {
		fmt.Printf("icns: %s\n", d)
	}
	if len(descs) < *minSizes {
		return fmt.Errorf("icns: %s holds %d images, want at least %d", path, len(descs), *minSizes)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return fmt.Errorf("icns: %w", err)
	}
	img, err := icns.Decode(f)
	if err != nil {
		return fmt.Errorf("icns: %s: largest image does not decode: %w", path, err)
	}
	fmt.Printf("icns: largest image %dx%d\n", img.Bounds().Dx(), img.Bounds().Dy())
	return nil
}
