//go:build linux

package main

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Wine's virtual desktop named "shell" has a taskbar with a notification
// area; clearway.exe's Shell_NotifyIcon icon shows there.
const desktopW, desktopH = 800, 600

// trayScreenshot starts the tray app (no arguments) on a Wine virtual desktop,
// waits for its icon in the taskbar's notification area, opens its menu with
// a right click and saves a picture of the desktop to path. It needs DISPLAY,
// ImageMagick's import and xdotool.
func (r *runner) trayScreenshot(path string) error {
	for _, tool := range []string{"import", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing (Debian: imagemagick, xdotool)", tool)
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfgFile := filepath.Join(r.out, "tray.yaml")
	if err := os.WriteFile(cfgFile, []byte("listen: "+addr+"\nupstreams:\n  anthropic:\n    url: https://api.anthropic.com\n    key: anthropic\n"), 0o644); err != nil {
		return err
	}
	log, err := os.Create(filepath.Join(r.out, "tray.log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command("wine", "explorer", "/desktop=shell,"+strconv.Itoa(desktopW)+"x"+strconv.Itoa(desktopH), r.exe)
	cmd.Env = append(os.Environ(), "CLEARWAY_CONFIG="+winPath(cfgFile))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	shot := filepath.Join(r.out, "desktop.png")
	var icon image.Point
	if err := waitFor(60*time.Second, func() bool {
		img, err := grab(shot)
		if err != nil {
			return false
		}
		icon, err = findTrayIcon(img)
		return err == nil && exec.Command("curl", "-fsS", "-o", "/dev/null", "http://"+addr+"/_clearway/health").Run() == nil
	}); err != nil {
		return fmt.Errorf("no icon in Wine's notification area with the proxy serving: %w", err)
	}
	r.say("the tray icon is in Wine's notification area at %v; opening its menu", icon)
	if out, err := exec.Command("xdotool", "mousemove", strconv.Itoa(icon.X), strconv.Itoa(icon.Y), "click", "3").CombinedOutput(); err != nil {
		return fmt.Errorf("xdotool: %v: %s", err, out)
	}
	// The menu opens above the icon: wait until the desktop's blue there
	// turns into the menu's light grey.
	if err := waitFor(20*time.Second, func() bool {
		img, err := grab(shot)
		return err == nil && isMenuGrey(img.At(icon.X-60, icon.Y-60))
	}); err != nil {
		return fmt.Errorf("the tray menu did not open: %w", err)
	}
	if out, err := exec.Command("convert", shot, "-crop", fmt.Sprintf("%dx%d+0+0", desktopW, desktopH), "+repage", path).CombinedOutput(); err != nil {
		return fmt.Errorf("convert: %v: %s", err, out)
	}
	r.say("tray menu screenshot: %s", path)
	_, _ = exec.Command("xdotool", "key", "Escape").CombinedOutput()
	return nil
}

// grab photographs the X screen.
func grab(path string) (image.Image, error) {
	if out, err := exec.Command("import", "-window", "root", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("import: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

// findTrayIcon looks for a coloured (not grey) pixel in the right end of the
// taskbar, the bottom 20 pixels of the virtual desktop, right of the clock-less
// notification area's start.
func findTrayIcon(img image.Image) (image.Point, error) {
	for x := desktopW - 4; x > desktopW-120; x-- {
		for y := desktopH - 16; y < desktopH-4; y++ {
			if colourful(img.At(x, y)) {
				return image.Pt(x-5, desktopH-10), nil
			}
		}
	}
	return image.Point{}, errors.New("no icon yet")
}

func colourful(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	hi, lo := max(r, g, b), min(r, g, b)
	return hi-lo > 0x3000
}

func isMenuGrey(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 0xd000 && g > 0xd000 && b > 0xd000
}
