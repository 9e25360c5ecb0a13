package traytest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// MenuItem is one entry of a dbusmenu layout. The root has ID 0 and no label.
type MenuItem struct {
	ID          int32
	Label       string
	Enabled     bool
	Visible     bool
	Separator   bool
	ToggleType  string // "checkmark", "radio" or ""
	ToggleState int32  // 1 checked, 0 unchecked, -1 indeterminate
	Submenu     bool   // children-display is "submenu"
	Children    []*MenuItem
}

// layout is the wire form of a dbusmenu layout: (ia{sv}av).
type layout struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []dbus.Variant
}

func fromLayout(l layout) (*MenuItem, error) {
	m := &MenuItem{ID: l.ID, Enabled: true, Visible: true}
	for k, v := range l.Props {
		switch k {
		case "label":
			m.Label, _ = v.Value().(string)
		case "enabled":
			m.Enabled, _ = v.Value().(bool)
		case "visible":
			m.Visible, _ = v.Value().(bool)
		case "type":
			s, _ := v.Value().(string)
			m.Separator = s == "separator"
		case "toggle-type":
			m.ToggleType, _ = v.Value().(string)
		case "toggle-state":
			m.ToggleState, _ = v.Value().(int32)
		case "children-display":
			s, _ := v.Value().(string)
			m.Submenu = s == "submenu"
		}
	}
	for _, c := range l.Children {
		var cl layout
		if err := dbus.Store([]any{c.Value()}, &cl); err != nil {
			return nil, fmt.Errorf("child of %d: %w", l.ID, err)
		}
		child, err := fromLayout(cl)
		if err != nil {
			return nil, err
		}
		m.Children = append(m.Children, child)
	}
	return m, nil
}

// Checked reports whether a check mark item is checked.
func (m *MenuItem) Checked() bool { return m.ToggleState == 1 }

// Find returns the visible item reached by following labels from m: each
// step picks the first child whose label equals the step or, when the step
// ends in "*", starts with the rest. It returns nil when there is none.
func (m *MenuItem) Find(path ...string) *MenuItem {
	cur := m
	for _, step := range path {
		var next *MenuItem
		for _, c := range cur.Children {
			if !c.Visible || c.Separator {
				continue
			}
			if c.Label == step || (strings.HasSuffix(step, "*") && strings.HasPrefix(c.Label, strings.TrimSuffix(step, "*"))) {
				next = c
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// Labels lists the visible entries under m, one per line, children indented
// by two spaces, separators as "--", disabled entries in parentheses and
// check marks as "[x] " or "[ ] ". Good for messages and golden comparisons.
func (m *MenuItem) Labels() []string {
	var out []string
	var walk func(*MenuItem, string)
	walk = func(n *MenuItem, indent string) {
		for _, c := range n.Children {
			if !c.Visible {
				continue
			}
			line := c.Label
			switch {
			case c.Separator:
				line = "--"
			case c.ToggleType == "checkmark" && c.Checked():
				line = "[x] " + line
			case c.ToggleType == "checkmark":
				line = "[ ] " + line
			}
			if !c.Enabled && !c.Separator {
				line = "(" + line + ")"
			}
			out = append(out, indent+line)
			walk(c, indent+"  ")
		}
	}
	walk(m, "")
	return out
}

// String is the menu as Labels, joined by newlines.
func (m *MenuItem) String() string { return strings.Join(m.Labels(), "\n") }

// Menu reads the whole menu once with GetLayout(0, -1, []). Note that
// fyne systray cuts its first answer after a menu reset to depth 1 and
// emits LayoutUpdated ~150 ms later: use WaitMenu to read a complete menu.
func (it *Item) Menu(t testing.TB) *MenuItem {
	t.Helper()
	m, err := it.readMenu(it.MenuPath(t))
	if err != nil {
		t.Fatalf("traytest: %v", err)
	}
	return m
}

func (it *Item) readMenu(path dbus.ObjectPath) (*MenuItem, error) {
	var rev uint32
	var l layout
	call := it.conn.Object(it.Service, path).Call(MenuIface+".GetLayout", 0, int32(0), int32(-1), []string{})
	if err := call.Store(&rev, &l); err != nil {
		return nil, fmt.Errorf("GetLayout on %s: %w", it, err)
	}
	return fromLayout(l)
}

// WaitMenu reads the menu until cond holds for it and returns that menu; it
// re-reads whenever the menu signals LayoutUpdated or
// ItemsPropertiesUpdated, and at least every 50 ms. It fails the test after
// timeout, showing the last menu read.
func (it *Item) WaitMenu(t testing.TB, what string, timeout time.Duration, cond func(*MenuItem) bool) *MenuItem {
	t.Helper()
	path := it.MenuPath(t)
	match := []dbus.MatchOption{dbus.WithMatchSender(it.Service), dbus.WithMatchObjectPath(path), dbus.WithMatchInterface(MenuIface)}
	if err := it.conn.AddMatchSignal(match...); err != nil {
		t.Fatalf("traytest: watch menu signals: %v", err)
	}
	defer func() { _ = it.conn.RemoveMatchSignal(match...) }()
	sigs := make(chan *dbus.Signal, 64)
	it.conn.Signal(sigs)
	defer it.conn.RemoveSignal(sigs)

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last *MenuItem
	var lastErr error
	for {
		m, err := it.readMenu(path)
		if err == nil {
			last = m
			if cond(m) {
				return m
			}
		}
		lastErr = err
		select {
		case <-sigs:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("traytest: menu: %s: not within %v; last read error %v; last menu:\n%v", what, timeout, lastErr, last)
			return nil
		}
	}
}

// WaitEntry waits until the entry at path exists (and, if enabled is true,
// is enabled) and returns it, with the whole menu it was found in.
func (it *Item) WaitEntry(t testing.TB, timeout time.Duration, path ...string) *MenuItem {
	t.Helper()
	var found *MenuItem
	it.WaitMenu(t, "entry "+strings.Join(path, " › "), timeout, func(m *MenuItem) bool {
		found = m.Find(path...)
		return found != nil
	})
	return found
}

// Click sends the "clicked" event for the entry with the given id, as a
// panel does when the user picks it.
func (it *Item) Click(t testing.TB, id int32) {
	t.Helper()
	call := it.conn.Object(it.Service, it.MenuPath(t)).Call(MenuIface+".Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix()))
	if call.Err != nil {
		t.Fatalf("traytest: click %d: %v", id, call.Err)
	}
}

// ClickPath finds the entry at path (waiting up to timeout for it to appear
// enabled) and clicks it.
func (it *Item) ClickPath(t testing.TB, timeout time.Duration, path ...string) {
	t.Helper()
	var found *MenuItem
	it.WaitMenu(t, "enabled entry "+strings.Join(path, " › "), timeout, func(m *MenuItem) bool {
		found = m.Find(path...)
		return found != nil && found.Enabled
	})
	it.Click(t, found.ID)
}
