// Package assets holds clearway's icons, embedded in the binary: the
// application icon in several sizes (PNG and a multi-size Windows ICO) and one
// tray icon per state (PNG, ICO, and a black-and-alpha macOS template PNG).
//
// The files live in assets/icon/ and are drawn by assets/gen; packaging reads
// assets/icon/clearway-{16,24,32,48,64,128,256,512}.png and
// assets/icon/clearway.ico by those names. Everything here is read-only and
// safe for concurrent use; callers must not modify the returned slices.
package assets

import (
	"embed"
	"fmt"
)

//go:generate go run ./gen/main.go -dir icon

//go:embed icon
var files embed.FS

// State is what the tray icon shows. The zero value is Stopped.
type State int

// The states a tray icon can show.
const (
	Stopped State = iota // the proxy is not serving (grey, square)
	Running              // serving, all upstreams fine (green, arrow)
	Busy                 // starting, stopping or requests in flight (blue, dots)
	Warning              // rate limited and retrying, or degraded (amber, "!")
	Error                // the proxy cannot serve or needs the user (red, "x")
)

var stateNames = [...]string{
	Stopped: "stopped", Running: "running", Busy: "busy", Warning: "warning", Error: "error",
}

// String returns the state's lower-case name, as used in the icon file names.
// Out-of-range values read "stopped".
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return stateNames[Stopped]
	}
	return stateNames[s]
}

// AppIconSizes lists the sizes, in pixels, of the square PNG application icons.
var AppIconSizes = []int{16, 24, 32, 48, 64, 128, 256, 512}

// StateIcon returns the 32x32 PNG tray icon for s (Linux and macOS).
// Out-of-range values give the Stopped icon.
func StateIcon(s State) []byte { return mustRead("icon/state-" + s.String() + ".png") }

// StateICO returns the Windows ICO tray icon for s, with 16, 20, 24, 32 and
// 48 pixel images. Out-of-range values give the Stopped icon.
func StateICO(s State) []byte { return mustRead("icon/state-" + s.String() + ".ico") }

// StateTemplate returns the 32x32 macOS template PNG for s: black and alpha
// only, the glyph cut out, so the menu bar can tint it for light and dark mode.
// Out-of-range values give the Stopped icon.
func StateTemplate(s State) []byte {
	return mustRead("icon/state-" + s.String() + "-template.png")
}

// AppIconPNG returns the application icon as a size x size PNG. It returns
// nil when size is not one of AppIconSizes.
func AppIconPNG(size int) []byte {
	b, err := files.ReadFile(fmt.Sprintf("icon/clearway-%d.png", size))
	if err != nil {
		return nil
	}
	return b
}

// AppICO returns the application icon as a Windows ICO holding every size
// from 16 to 256 pixels.
func AppICO() []byte { return mustRead("icon/clearway.ico") }

// mustRead returns an embedded file; the files are compiled in, so a miss is
// a build mistake that the package tests catch.
func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic("assets: " + err.Error())
	}
	return b
}
