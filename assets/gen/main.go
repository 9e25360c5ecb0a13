//go:build ignore

// Command gen draws clearway's icons and writes them to assets/icon/.
// It is pure Go (no image tools needed): every shape is a signed distance
// function in unit coordinates, rendered with supersampling so the edges stay
// clean at 16 px. Regenerate with `go generate ./assets` or, from the
// repository root, `go run ./assets/gen/main.go` (the file carries the ignore
// build tag, so it must be named), then commit the files it writes.
//
// The glyph is a shield (the "gate" the requests pass through) with a bold
// sign inside: an arrow (app icon, running), three dots (busy), "!"
// (warning: rate limited, retrying), "x" (error) and a square (stopped).
// Each state has its own colour as well, so the glyph tells the state apart
// even to people who cannot tell the colours apart.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math"
	"os"
	"path/filepath"
)

// sdf is a signed distance function: negative inside the shape, in unit coordinates.
type sdf func(x, y float64) float64

func circle(cx, cy, r float64) sdf {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

// roundBox is a box centred at (cx, cy) with half sizes hx, hy and corner radius r.
func roundBox(cx, cy, hx, hy, r float64) sdf {
	return func(x, y float64) float64 {
		qx := math.Abs(x-cx) - hx + r
		qy := math.Abs(y-cy) - hy + r
		return math.Hypot(math.Max(qx, 0), math.Max(qy, 0)) + math.Min(math.Max(qx, qy), 0) - r
	}
}

// capsule is a segment from (ax, ay) to (bx, by) with round ends, r thick on each side.
func capsule(ax, ay, bx, by, r float64) sdf {
	return func(x, y float64) float64 {
		px, py := x-ax, y-ay
		dx, dy := bx-ax, by-ay
		h := math.Max(0, math.Min(1, (px*dx+py*dy)/(dx*dx+dy*dy)))
		return math.Hypot(px-dx*h, py-dy*h) - r
	}
}

func union(fs ...sdf) sdf {
	return func(x, y float64) float64 {
		d := math.Inf(1)
		for _, f := range fs {
			d = math.Min(d, f(x, y))
		}
		return d
	}
}

func intersect(fs ...sdf) sdf {
	return func(x, y float64) float64 {
		d := math.Inf(-1)
		for _, f := range fs {
			d = math.Max(d, f(x, y))
		}
		return d
	}
}

// shield is a heater shield: straight sides, rounded top corners, and a
// bottom made of two circular arcs that meet in a point.
func shield() sdf {
	const (
		left, right = 0.14, 0.86
		top, tip    = 0.07, 0.93
		mid         = 0.42 // where the sides start to curve in
	)
	half := (right - left) / 2
	// Circles tangent to the sides at y=mid that meet at the tip:
	// (half+d)^2 - d^2 = (tip-mid)^2.
	d := ((tip-mid)*(tip-mid) - half*half) / (2 * half)
	r := half + d
	box := roundBox(0.5, (top+tip)/2, half, (tip-top)/2, 0.13)
	lens := intersect(circle(0.5+d, mid, r), circle(0.5-d, mid, r))
	upper := func(x, y float64) float64 { return y - mid }
	return intersect(box, union(lens, upper))
}

// Glyphs sit a little above the shield's centre, where it is widest.
const gy = 0.45

const stroke = 0.078 // half the width of a glyph's strokes

func arrow() sdf {
	return union(
		capsule(0.29, gy, 0.66, gy, stroke),
		capsule(0.50, gy-0.17, 0.68, gy, stroke),
		capsule(0.50, gy+0.17, 0.68, gy, stroke),
	)
}

func dots() sdf {
	return union(circle(0.29, gy, 0.082), circle(0.5, gy, 0.082), circle(0.71, gy, 0.082))
}

func exclamation() sdf {
	return union(capsule(0.5, gy-0.22, 0.5, gy+0.04, stroke+0.005), circle(0.5, gy+0.2, 0.085))
}

func cross() sdf {
	const h = 0.155
	return union(
		capsule(0.5-h, gy-h, 0.5+h, gy+h, stroke),
		capsule(0.5+h, gy-h, 0.5-h, gy+h, stroke),
	)
}

func square() sdf { return roundBox(0.5, gy, 0.145, 0.145, 0.035) }

// icon is one design: a fill colour and a glyph.
type icon struct {
	name  string
	fill  color.NRGBA
	glyph sdf
}

var (
	brand = icon{"clearway", color.NRGBA{0x0B, 0x7A, 0x8C, 0xFF}, arrow()}
	// The states, in the order of assets.State.
	states = []icon{
		{"running", color.NRGBA{0x23, 0x9A, 0x48, 0xFF}, arrow()},
		{"busy", color.NRGBA{0x1F, 0x6F, 0xEB, 0xFF}, dots()},
		{"warning", color.NRGBA{0xE3, 0x8A, 0x00, 0xFF}, exclamation()},
		{"error", color.NRGBA{0xD3, 0x2F, 0x2F, 0xFF}, cross()},
		{"stopped", color.NRGBA{0x7B, 0x80, 0x88, 0xFF}, square()},
	}
)

// coverage returns the fraction of the pixel (px, py) of a size x size image
// that lies inside f grown by grow, sampled n x n times.
func coverage(f sdf, grow float64, px, py, size, n int) float64 {
	in := 0
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			x := (float64(px) + (float64(i)+0.5)/float64(n)) / float64(size)
			y := (float64(py) + (float64(j)+0.5)/float64(n)) / float64(size)
			if f(x, y) <= grow {
				in++
			}
		}
	}
	return float64(in) / float64(n*n)
}

func samples(size int) int {
	if size >= 256 {
		return 4
	}
	return 8
}

// over composites a colour with coverage a over dst (both non-premultiplied).
func over(dst color.NRGBA, c color.NRGBA, a float64) color.NRGBA {
	da := float64(dst.A) / 255
	oa := a + da*(1-a)
	if oa == 0 {
		return color.NRGBA{}
	}
	mix := func(s, d uint8) uint8 {
		v := (float64(s)*a + float64(d)*da*(1-a)) / oa
		return uint8(math.Round(v))
	}
	return color.NRGBA{mix(c.R, dst.R), mix(c.G, dst.G), mix(c.B, dst.B), uint8(math.Round(oa * 255))}
}

func shade(c color.NRGBA, k float64) color.NRGBA {
	return color.NRGBA{uint8(float64(c.R) * k), uint8(float64(c.G) * k), uint8(float64(c.B) * k), c.A}
}

// render draws ic in colour: a dark rim, the fill with a soft top-down
// gradient, and the glyph in white.
func render(ic icon, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	sh := shield()
	n := samples(size)
	// The rim stays at least about 0.7 px wide so small icons keep an edge
	// against light and dark panels alike.
	rim := math.Max(0.035, 0.7/float64(size))
	inner := func(x, y float64) float64 { return sh(x, y) + rim }
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var c color.NRGBA
			c = over(c, shade(ic.fill, 0.62), coverage(sh, 0, px, py, size, n))
			t := float64(py) / float64(size)
			fill := over(shade(ic.fill, 1.0-0.14*t), color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}, 0.12*(1-t))
			c = over(c, fill, coverage(inner, 0, px, py, size, n))
			c = over(c, color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}, coverage(ic.glyph, 0, px, py, size, n))
			img.SetNRGBA(px, py, c)
		}
	}
	return img
}

// renderTemplate draws ic as a macOS template image: the shield in black,
// the glyph cut out of it. macOS recolours it to suit the menu bar.
func renderTemplate(ic icon, size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	sh := shield()
	n := samples(size)
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			a := coverage(sh, 0, px, py, size, n) * (1 - coverage(ic.glyph, 0, px, py, size, n))
			img.SetNRGBA(px, py, color.NRGBA{0, 0, 0, uint8(math.Round(a * 255))})
		}
	}
	return img
}

func encodePNG(img image.Image) []byte {
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		panic(err) // encoding to memory cannot fail for an NRGBA image
	}
	return b.Bytes()
}

// encodeICO writes an ICO container with one PNG-compressed entry per image
// (supported since Windows Vista).
func encodeICO(imgs []*image.NRGBA) []byte {
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	w(uint16(0))         // reserved
	w(uint16(1))         // type: icon
	w(uint16(len(imgs))) // count
	pngs := make([][]byte, len(imgs))
	offset := 6 + 16*len(imgs)
	for i, img := range imgs {
		pngs[i] = encodePNG(img)
		dim := img.Bounds().Dx()
		if dim >= 256 {
			dim = 0 // 0 means 256
		}
		b.WriteByte(byte(dim))  // width
		b.WriteByte(byte(dim))  // height
		b.WriteByte(0)          // colours in palette: none
		b.WriteByte(0)          // reserved
		w(uint16(1))            // colour planes
		w(uint16(32))           // bits per pixel
		w(uint32(len(pngs[i]))) // size of the data
		w(uint32(offset))       // where the data starts
		offset += len(pngs[i])
	}
	for _, p := range pngs {
		b.Write(p)
	}
	return b.Bytes()
}

func main() {
	dir := flag.String("dir", "assets/icon", "folder to write the icons to")
	flag.Parse()
	if err := run(*dir); err != nil {
		slog.Error("gen: cannot write icons", "err", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	write := func(name string, data []byte) error {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		return nil
	}
	var appICO []*image.NRGBA
	for _, size := range []int{16, 24, 32, 48, 64, 128, 256, 512} {
		img := render(brand, size)
		if err := write(fmt.Sprintf("clearway-%d.png", size), encodePNG(img)); err != nil {
			return err
		}
		if size <= 256 {
			appICO = append(appICO, img)
		}
	}
	if err := write("clearway.ico", encodeICO(appICO)); err != nil {
		return err
	}
	for _, st := range states {
		// 32 px: sharp on a 16-24 px panel after scaling, and 16 pt at 2x on macOS.
		if err := write("state-"+st.name+".png", encodePNG(render(st, 32))); err != nil {
			return err
		}
		if err := write("state-"+st.name+"-template.png", encodePNG(renderTemplate(st, 32))); err != nil {
			return err
		}
		var imgs []*image.NRGBA
		for _, size := range []int{16, 20, 24, 32, 48} {
			imgs = append(imgs, render(st, size))
		}
		if err := write("state-"+st.name+".ico", encodeICO(imgs)); err != nil {
			return err
		}
	}
	return nil
}
