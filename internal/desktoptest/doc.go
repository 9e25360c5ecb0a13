// Package desktoptest runs real desktop services privately for tests: a
// session bus (dbus-daemon), a Secret Service (gnome-keyring-daemon), an X
// server (Xvfb), a notification daemon (dunst) and an in-process recorder
// that owns org.freedesktop.Notifications.
//
// Every helper takes a testing.TB, puts its files under t.TempDir(), points
// the environment at the service with t.Setenv (so tests using it cannot call
// t.Parallel), and stops the service by itself in t.Cleanup, killing the
// whole process group. Nothing is D-Bus-activated behind the test's back: the
// private bus has an empty service directory.
//
// A helper whose executable is missing fails the test when the environment
// variable CI is "true" and skips it loudly otherwise (see Require); the
// Debian packages that provide each tool are listed in Packages.
//
// The helpers are meant for tests only and are not safe for concurrent use
// from several goroutines of one test unless a method says otherwise.
package desktoptest
