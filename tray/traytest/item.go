package traytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Names of the StatusNotifierItem and its menu.
const (
	ItemIface = "org.kde.StatusNotifierItem"
	ItemPath  = dbus.ObjectPath("/StatusNotifierItem")
	MenuIface = "com.canonical.dbusmenu"
)

// pollInterval is how often Wait helpers re-read when no signal arrives.
const pollInterval = 50 * time.Millisecond

// Item is a registered StatusNotifierItem seen from the host's connection.
// The zero value is not usable; get one from Host.WaitItem. Its methods are
// safe for concurrent use.
type Item struct {
	conn *dbus.Conn
	// Service is the bus name the item lives on (usually the application's
	// unique name, e.g. ":1.5").
	Service string
	// Path is the item's object path, usually /StatusNotifierItem.
	Path dbus.ObjectPath
}

// Pixmap is one image of IconPixmap: W x H pixels, ARGB32 in network byte order.
type Pixmap struct {
	W, H int32
	ARGB []byte
}

// ToolTip is the item's ToolTip property.
type ToolTip struct {
	IconName    string
	Icons       []Pixmap
	Title       string
	Description string
}

func (it *Item) obj() dbus.BusObject { return it.conn.Object(it.Service, it.Path) }

// Property reads one property of the item.
func (it *Item) Property(t testing.TB, name string) dbus.Variant {
	t.Helper()
	v, err := it.obj().GetProperty(ItemIface + "." + name)
	if err != nil {
		t.Fatalf("traytest: read %s: %v", name, err)
	}
	return v
}

// Title reads the item's Title.
func (it *Item) Title(t testing.TB) string {
	t.Helper()
	var s string
	if err := dbus.Store([]any{it.Property(t, "Title").Value()}, &s); err != nil {
		t.Fatalf("traytest: Title: %v", err)
	}
	return s
}

// ID reads the item's Id.
func (it *Item) ID(t testing.TB) string {
	t.Helper()
	var s string
	if err := dbus.Store([]any{it.Property(t, "Id").Value()}, &s); err != nil {
		t.Fatalf("traytest: Id: %v", err)
	}
	return s
}

// ToolTip reads the item's ToolTip.
func (it *Item) ToolTip(t testing.TB) ToolTip {
	t.Helper()
	var tt ToolTip
	if err := dbus.Store([]any{it.Property(t, "ToolTip").Value()}, &tt); err != nil {
		t.Fatalf("traytest: ToolTip: %v", err)
	}
	return tt
}

// IconPixmap reads the item's IconPixmap.
func (it *Item) IconPixmap(t testing.TB) []Pixmap {
	t.Helper()
	var px []Pixmap
	if err := dbus.Store([]any{it.Property(t, "IconPixmap").Value()}, &px); err != nil {
		t.Fatalf("traytest: IconPixmap: %v", err)
	}
	return px
}

// MenuPath reads the item's Menu property: the dbusmenu object path.
func (it *Item) MenuPath(t testing.TB) dbus.ObjectPath {
	t.Helper()
	var p dbus.ObjectPath
	if err := dbus.Store([]any{it.Property(t, "Menu").Value()}, &p); err != nil {
		t.Fatalf("traytest: Menu: %v", err)
	}
	return p
}

// Wait polls cond until it holds, failing the test after timeout with what.
// Use it for properties (the tooltip, the icon) that change with the
// application's state.
func Wait(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("traytest: %s: not within %v", what, timeout)
		case <-tick.C:
		}
	}
}

// String names the item for messages.
func (it *Item) String() string { return fmt.Sprintf("%s%s", it.Service, it.Path) }
