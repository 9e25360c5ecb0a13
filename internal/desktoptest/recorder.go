package desktoptest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// Notification server constants from the Desktop Notifications
// Specification.
const (
	NotificationsName  = "org.freedesktop.Notifications"
	NotificationsPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	NotificationsIface = "org.freedesktop.Notifications"
)

// Reasons a notification was closed, sent in the NotificationClosed signal.
const (
	ClosedExpired   uint32 = 1
	ClosedDismissed uint32 = 2
	ClosedByCall    uint32 = 3 // CloseNotification was called
	ClosedUndefined uint32 = 4
)

// RecorderCapabilities are the capabilities a Recorder announces by default
// (the same set as dunst).
var RecorderCapabilities = []string{"actions", "body", "body-hyperlinks", "body-markup", "icon-static", "persistence"}

// Notification is one Notify call a Recorder received.
type Notification struct {
	ID            uint32 // the ID the recorder returned
	Sender        string // unique bus name of the caller, e.g. ":1.7"
	AppName       string
	ReplacesID    uint32
	AppIcon       string
	Summary       string
	Body          string
	Actions       []string // key, label, key, label, ...
	Hints         map[string]dbus.Variant
	ExpireTimeout int32
	Closed        bool   // CloseNotification was called, or Close
	CloseReason   uint32 // valid when Closed
}

// Recorder is an in-process notification server: it owns
// org.freedesktop.Notifications on a bus and records every Notify call.
// Create one with StartNotificationRecorder; its zero value is not usable.
// It is safe for concurrent use.
type Recorder struct {
	conn *dbus.Conn

	mu            sync.Mutex
	notifications []Notification
	nextID        uint32
	changed       chan struct{} // closed and replaced on every change
	capabilities  []string
}

// recorderServer holds the exported D-Bus methods, so that only they are
// visible on the bus.
type recorderServer struct{ r *Recorder }

const recorderIntrospection = `<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg direction="in" type="s" name="app_name"/>
      <arg direction="in" type="u" name="replaces_id"/>
      <arg direction="in" type="s" name="app_icon"/>
      <arg direction="in" type="s" name="summary"/>
      <arg direction="in" type="s" name="body"/>
      <arg direction="in" type="as" name="actions"/>
      <arg direction="in" type="a{sv}" name="hints"/>
      <arg direction="in" type="i" name="expire_timeout"/>
      <arg direction="out" type="u" name="id"/>
    </method>
    <method name="CloseNotification"><arg direction="in" type="u" name="id"/></method>
    <method name="GetCapabilities"><arg direction="out" type="as" name="capabilities"/></method>
    <method name="GetServerInformation">
      <arg direction="out" type="s" name="name"/>
      <arg direction="out" type="s" name="vendor"/>
      <arg direction="out" type="s" name="version"/>
      <arg direction="out" type="s" name="spec_version"/>
    </method>
    <signal name="NotificationClosed"><arg type="u" name="id"/><arg type="u" name="reason"/></signal>
    <signal name="ActionInvoked"><arg type="u" name="id"/><arg type="s" name="action_key"/></signal>
  </interface>` + introspect.IntrospectDeclarationString + `</node>`

// StartNotificationRecorder owns org.freedesktop.Notifications on the bus
// from a private connection of the test process, answers Notify,
// GetCapabilities, GetServerInformation and CloseNotification, and records
// every notification. It releases the name in t.Cleanup.
func StartNotificationRecorder(t testing.TB, b *Bus) *Recorder {
	t.Helper()
	conn, err := b.dial()
	if err != nil {
		t.Fatalf("desktoptest: connect to %s: %v", b.Addr, err)
	}
	r := &Recorder{conn: conn, changed: make(chan struct{}), capabilities: slices.Clone(RecorderCapabilities)}
	t.Cleanup(func() { _ = conn.Close() })

	srv := &recorderServer{r: r}
	if err := conn.Export(srv, NotificationsPath, NotificationsIface); err != nil {
		t.Fatalf("desktoptest: export the notification server: %v", err)
	}
	if err := conn.Export(introspect.Introspectable(recorderIntrospection), NotificationsPath, "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatalf("desktoptest: export introspection: %v", err)
	}
	reply, err := conn.RequestName(NotificationsName, dbus.NameFlagDoNotQueue)
	if err != nil {
		t.Fatalf("desktoptest: request %s: %v", NotificationsName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("desktoptest: %s is already owned on the bus (reply %v)", NotificationsName, reply)
	}
	return r
}

// Notify implements org.freedesktop.Notifications.Notify.
func (s *recorderServer) Notify(sender dbus.Sender, appName string, replacesID uint32, appIcon, summary, body string,
	actions []string, hints map[string]dbus.Variant, expireTimeout int32) (uint32, *dbus.Error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	id := replacesID
	if id == 0 {
		r.nextID++
		id = r.nextID
	}
	r.notifications = append(r.notifications, Notification{
		ID: id, Sender: string(sender), AppName: appName, ReplacesID: replacesID, AppIcon: appIcon,
		Summary: summary, Body: body, Actions: slices.Clone(actions), Hints: hints, ExpireTimeout: expireTimeout,
	})
	r.changedLocked()
	return id, nil
}

// CloseNotification implements org.freedesktop.Notifications.CloseNotification.
func (s *recorderServer) CloseNotification(id uint32) *dbus.Error {
	if err := s.r.close(id, ClosedByCall); err != nil {
		return dbus.MakeFailedError(err)
	}
	return nil
}

// GetCapabilities implements org.freedesktop.Notifications.GetCapabilities.
func (s *recorderServer) GetCapabilities() ([]string, *dbus.Error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return slices.Clone(s.r.capabilities), nil
}

// GetServerInformation implements org.freedesktop.Notifications.GetServerInformation.
func (s *recorderServer) GetServerInformation() (name, vendor, version, specVersion string, err *dbus.Error) {
	return "desktoptest-recorder", "clearway", "1.0", "1.2", nil
}

// SetCapabilities changes what GetCapabilities answers from now on (for
// example without "actions", to test a fallback).
func (r *Recorder) SetCapabilities(capabilities ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.capabilities = slices.Clone(capabilities)
}

// Notifications returns a copy of every notification received so far, in
// order of arrival.
func (r *Recorder) Notifications() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notifications)
}

// WaitFor waits until cond, called with a snapshot of the notifications
// after every change, returns true, and fails the test after timeout. It
// returns the snapshot that satisfied cond.
func (r *Recorder) WaitFor(t testing.TB, cond func([]Notification) bool, timeout time.Duration) []Notification {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		snapshot := slices.Clone(r.notifications)
		changed := r.changed
		r.mu.Unlock()
		if cond(snapshot) {
			return snapshot
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("desktoptest: the notifications did not satisfy the condition within %v; received %d: %s", timeout, len(snapshot), summaries(snapshot))
			return nil
		}
	}
}

// Close closes the notification as if the user dismissed it (or with
// another reason), emitting NotificationClosed.
func (r *Recorder) Close(t testing.TB, id, reason uint32) {
	t.Helper()
	if err := r.close(id, reason); err != nil {
		t.Fatalf("desktoptest: %v", err)
	}
}

// InvokeAction emits ActionInvoked(id, key) as if the user clicked the
// action, then NotificationClosed(id, ClosedDismissed), as dunst does. The
// notification is marked closed first, so a client calling
// CloseNotification on ActionInvoked does not change the recorded reason.
func (r *Recorder) InvokeAction(t testing.TB, id uint32, key string) {
	t.Helper()
	found := r.markClosed(id, ClosedDismissed)
	if err := r.conn.Emit(NotificationsPath, NotificationsIface+".ActionInvoked", id, key); err != nil {
		t.Fatalf("desktoptest: emit ActionInvoked: %v", err)
	}
	if found {
		if err := r.conn.Emit(NotificationsPath, NotificationsIface+".NotificationClosed", id, ClosedDismissed); err != nil {
			t.Fatalf("desktoptest: emit NotificationClosed: %v", err)
		}
	}
}

// markClosed records that the open notification id was closed for reason,
// and reports whether it was open.
func (r *Recorder) markClosed(id, reason uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	for i := range r.notifications {
		if r.notifications[i].ID == id && !r.notifications[i].Closed {
			r.notifications[i].Closed = true
			r.notifications[i].CloseReason = reason
			found = true
		}
	}
	if found {
		r.changedLocked()
	}
	return found
}

func (r *Recorder) close(id, reason uint32) error {
	if !r.markClosed(id, reason) {
		return nil // unknown or already closed: nothing to do, as dunst does
	}
	if err := r.conn.Emit(NotificationsPath, NotificationsIface+".NotificationClosed", id, reason); err != nil {
		return fmt.Errorf("emit NotificationClosed: %w", err)
	}
	return nil
}

// changedLocked wakes every WaitFor; r.mu must be held.
func (r *Recorder) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func summaries(ns []Notification) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprintf("%q", n.Summary)
	}
	return fmt.Sprint(s)
}
