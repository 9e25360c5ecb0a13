//go:build linux

package main

import "testing"

// TestRaceInside checks the race-log filter of the tray end-to-end test: a
// race is a library's own only when both conflicting accesses are its code.
func TestRaceInside(t *testing.T) {
	// As checkRaces sees them: the log split at "WARNING: DATA RACE".
	const libOnly = `
Write at 0x00c000123456 by goroutine 12:
  runtime.mapassign_faststr()
      /usr/lib/go/src/runtime/map_faststr.go:223 +0x0
  fyne.io/systray.(*menuItem).update()
      /root/go/pkg/mod/fyne.io/systray@v1.12.2/systray.go:300 +0x44
  github.com/clearway/clearway/tray.(*menu).refresh()
      /work/tray/menu.go:88 +0x10

Previous read at 0x00c000123456 by goroutine 9:
  fyne.io/systray.(*UnimplementedServer).GetLayout()
      /root/go/pkg/mod/fyne.io/systray@v1.12.2/systray_menu_unix.go:120 +0x88
  github.com/godbus/dbus/v5.(*Conn).handleCall()
      /root/go/pkg/mod/github.com/godbus/dbus/v5@v5.2.4/export.go:180 +0x1

Goroutine 12 (running) created at:
  github.com/clearway/clearway/tray.Run()
      /work/tray/tray.go:50 +0x1
==================
`
	const withClearway = `
Read at 0x00c000777777 by goroutine 7:
  github.com/clearway/clearway/tray.(*menu).label()
      /work/tray/menu.go:120 +0x44

Previous write at 0x00c000777777 by goroutine 9:
  fyne.io/systray.(*UnimplementedServer).Event()
      /root/go/pkg/mod/fyne.io/systray@v1.12.2/systray_menu_unix.go:200 +0x88

Goroutine 7 (running) created at:
  main.main()
      /work/main.go:20 +0x1
==================
`
	if !raceInside(libOnly, "fyne.io/systray.") {
		t.Error("a race between two systray accesses was not recognised as the library's")
	}
	if raceInside(withClearway, "fyne.io/systray.") {
		t.Error("a race with clearway's code on one side was ignored")
	}
	if raceInside("Write at 0x1 by goroutine 1:\n  fyne.io/systray.f()\n", "fyne.io/systray.") {
		t.Error("a report with one access section was ignored")
	}
}
