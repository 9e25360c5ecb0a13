package assets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

var allStates = []State{Stopped, Running, Busy, Warning, Error}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	return img
}

func TestStateIconsArePNGOf32(t *testing.T) {
	for _, s := range allStates {
		for name, b := range map[string][]byte{"icon": StateIcon(s), "template": StateTemplate(s)} {
			img := decodePNG(t, b)
			if got := img.Bounds().Size(); got != image.Pt(32, 32) {
				t.Errorf("%v %s: size %v, want 32x32", s, name, got)
			}
		}
	}
}

func TestStateIconsDiffer(t *testing.T) {
	seen := map[string]State{}
	for _, s := range allStates {
		k := string(StateIcon(s))
		if prev, ok := seen[k]; ok {
			t.Errorf("%v and %v share one icon", s, prev)
		}
		seen[k] = s
	}
}

func TestTemplateIsBlackAndAlpha(t *testing.T) {
	for _, s := range allStates {
		img := decodePNG(t, StateTemplate(s))
		opaque := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				if r != 0 || g != 0 || bl != 0 {
					t.Fatalf("%v template: pixel (%d,%d) has colour %d,%d,%d", s, x, y, r, g, bl)
				}
				if a > 0xF000 {
					opaque++
				}
			}
		}
		if opaque < 32*32/4 {
			t.Errorf("%v template: only %d opaque pixels; the shape is missing", s, opaque)
		}
	}
}

func TestUnknownStateFallsBackToStopped(t *testing.T) {
	if !bytes.Equal(StateIcon(State(99)), StateIcon(Stopped)) {
		t.Error("StateIcon(99) is not the Stopped icon")
	}
	if got := State(-1).String(); got != "stopped" {
		t.Errorf("State(-1).String() = %q, want stopped", got)
	}
}

func TestAppIconSizes(t *testing.T) {
	for _, size := range AppIconSizes {
		b := AppIconPNG(size)
		if b == nil {
			t.Fatalf("AppIconPNG(%d) = nil", size)
		}
		if got := decodePNG(t, b).Bounds().Dx(); got != size {
			t.Errorf("AppIconPNG(%d) is %d wide", size, got)
		}
		// Packaging reads the files by name.
		if _, err := os.Stat(filepath.Join("icon", fmt.Sprintf("clearway-%d.png", size))); err != nil {
			t.Errorf("packaging file missing: %v", err)
		}
	}
	if AppIconPNG(17) != nil {
		t.Error("AppIconPNG(17) returned data for a size that does not exist")
	}
}

// readICO parses an ICO container and decodes each PNG entry, checking that
// the directory agrees with the images.
func readICO(t *testing.T, b []byte) []int {
	t.Helper()
	if len(b) < 6 || binary.LittleEndian.Uint16(b[0:]) != 0 || binary.LittleEndian.Uint16(b[2:]) != 1 {
		t.Fatalf("not an ICO header: % x", b[:min(6, len(b))])
	}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	var sizes []int
	for i := 0; i < n; i++ {
		e := b[6+16*i:]
		w := int(e[0])
		if w == 0 {
			w = 256
		}
		size := binary.LittleEndian.Uint32(e[8:])
		off := binary.LittleEndian.Uint32(e[12:])
		if int(off+size) > len(b) {
			t.Fatalf("entry %d runs past the end", i)
		}
		img := decodePNG(t, b[off:off+size])
		if img.Bounds().Dx() != w || int(e[1]) != int(e[0]) {
			t.Errorf("entry %d: directory says %d, image is %v", i, w, img.Bounds().Size())
		}
		if bpp := binary.LittleEndian.Uint16(e[6:]); bpp != 32 {
			t.Errorf("entry %d: %d bits per pixel, want 32", i, bpp)
		}
		sizes = append(sizes, w)
	}
	return sizes
}

func TestICOs(t *testing.T) {
	got := readICO(t, AppICO())
	if len(got) != 7 || got[0] != 16 || got[len(got)-1] != 256 {
		t.Errorf("clearway.ico sizes %v, want 16..256", got)
	}
	for _, s := range allStates {
		got := readICO(t, StateICO(s))
		if len(got) != 5 || got[0] != 16 || got[len(got)-1] != 48 {
			t.Errorf("%v ico sizes %v, want 16, 20, 24, 32, 48", s, got)
		}
	}
}
