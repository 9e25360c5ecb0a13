package traytest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// The StatusNotifierWatcher's names.
const (
	WatcherName  = "org.kde.StatusNotifierWatcher"
	WatcherPath  = dbus.ObjectPath("/StatusNotifierWatcher")
	WatcherIface = "org.kde.StatusNotifierWatcher"
)

// Host is a minimal tray host: it owns org.kde.StatusNotifierWatcher and
// records the items that register. Create one with StartHost; the zero value
// is not usable. It is safe for concurrent use.
type Host struct {
	conn  *dbus.Conn
	props *prop.Properties

	mu      sync.Mutex
	items   []*Item
	changed chan struct{} // closed and replaced when an item registers
	closed  bool
}

// watcher is the exported D-Bus object.
type watcher struct{ h *Host }

// RegisterStatusNotifierItem implements the watcher method. service is either
// a bus name (the item lives at /StatusNotifierItem) or an object path, in
// which case the item is the sender's path, as fyne systray and libappindicator
// send it.
func (w watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	it := &Item{conn: w.h.conn, Service: string(sender), Path: ItemPath}
	if strings.HasPrefix(service, "/") {
		it.Path = dbus.ObjectPath(service)
	} else if service != "" {
		it.Service = service
	}
	w.h.mu.Lock()
	w.h.items = append(w.h.items, it)
	close(w.h.changed)
	w.h.changed = make(chan struct{})
	names := w.h.namesLocked()
	w.h.mu.Unlock()
	w.h.props.SetMust(WatcherIface, "RegisteredStatusNotifierItems", names)
	_ = w.h.conn.Emit(WatcherPath, WatcherIface+".StatusNotifierItemRegistered", it.Service+string(it.Path))
	return nil
}

// RegisterStatusNotifierHost implements the watcher method; hosts are not tracked.
func (w watcher) RegisterStatusNotifierHost(service string) *dbus.Error { return nil }

func (h *Host) namesLocked() []string {
	names := make([]string, len(h.items))
	for i, it := range h.items {
		names[i] = it.Service + string(it.Path)
	}
	return names
}

// StartHost exports a StatusNotifierWatcher on conn (a connection to the
// test's private bus), owns its well-known name, and releases it in
// t.Cleanup. Applications that register after this are recorded.
func StartHost(t testing.TB, conn *dbus.Conn) *Host {
	t.Helper()
	h := &Host{conn: conn, changed: make(chan struct{})}
	if err := conn.Export(watcher{h}, WatcherPath, WatcherIface); err != nil {
		t.Fatalf("traytest: export watcher: %v", err)
	}
	props, err := prop.Export(conn, WatcherPath, map[string]map[string]*prop.Prop{
		WatcherIface: {
			"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
			"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
			"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
		},
	})
	if err != nil {
		t.Fatalf("traytest: export watcher properties: %v", err)
	}
	h.props = props
	node := &introspect.Node{Name: string(WatcherPath), Interfaces: []introspect.Interface{
		introspect.IntrospectData, prop.IntrospectData,
		{Name: WatcherIface, Methods: introspect.Methods(watcher{})},
	}}
	_ = conn.Export(introspect.NewIntrospectable(node), WatcherPath, "org.freedesktop.DBus.Introspectable")
	reply, err := conn.RequestName(WatcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("traytest: own %s: reply %v, %v", WatcherName, reply, err)
	}
	t.Cleanup(h.Close)
	return h
}

// Close releases the watcher name and withdraws the watcher, as a panel
// that quits does; applications see the name go. It is idempotent and
// StartHost's cleanup calls it. Start another Host to see them register again.
func (h *Host) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	_, _ = h.conn.ReleaseName(WatcherName)
	_ = h.conn.Export(nil, WatcherPath, WatcherIface)
}

// Items returns the items registered so far, oldest first.
func (h *Host) Items() []*Item {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Item(nil), h.items...)
}

// WaitItem waits until an item has registered and returns the newest one;
// it fails the test after timeout.
func (h *Host) WaitItem(t testing.TB, timeout time.Duration) *Item {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		n, ch := len(h.items), h.changed
		var it *Item
		if n > 0 {
			it = h.items[n-1]
		}
		h.mu.Unlock()
		if it != nil {
			return it
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("traytest: no StatusNotifierItem registered within %v", timeout)
			return nil
		}
	}
}

// WaitRegistrations waits until at least n items have registered in all
// (an application registers again when the watcher restarts) and returns them.
func (h *Host) WaitRegistrations(t testing.TB, n int, timeout time.Duration) []*Item {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		items, ch := append([]*Item(nil), h.items...), h.changed
		h.mu.Unlock()
		if len(items) >= n {
			return items
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("traytest: %d registrations within %v, want %d", len(items), timeout, n)
			return nil
		}
	}
}
