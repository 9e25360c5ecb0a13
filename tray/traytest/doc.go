// Package traytest drives a StatusNotifierItem tray icon and its
// com.canonical.dbusmenu menu over a real D-Bus session bus, the way a
// desktop panel does, so tests can check what a tray shows and click its
// menu: clearway's own tray tests use it, and so can tests of the real
// clearway binary.
//
// A test starts a private bus (internal/desktoptest.StartBus), opens a
// connection to it, and calls StartHost, which owns
// org.kde.StatusNotifierWatcher on that connection. The application under
// test registers its item with the host; WaitItem returns it. An Item reads
// the item's properties (Title, ToolTip, IconPixmap), reads the menu
// (Menu, WaitMenu) and clicks entries (Click).
//
// Everything waits on conditions with deadlines (signals, or polling), never
// on fixed sleeps. Helpers take a testing.TB and fail the test on error.
package traytest
