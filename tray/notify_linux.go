package tray

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"sync"

	"github.com/esiqveland/notify"
	"github.com/godbus/dbus/v5"
)

// dbusSender sends notifications to org.freedesktop.Notifications over a
// PRIVATE session bus connection. systray reads every signal on the shared
// dbus.SessionBus() connection and stops re-registering with the panel on a
// signal it does not expect, such as NotificationClosed, so notifications
// must never use that one. It connects lazily and reconnects after the bus
// went away. Safe for concurrent use.
type dbusSender struct {
	log *slog.Logger

	mu   sync.Mutex // serializes Send and Close; guards conn and n
	conn *dbus.Conn
	n    notify.Notifier

	// idsMu guards ids alone, so that the closed-signal handler never waits
	// for a Send that waits for the bus that waits for the handler.
	idsMu sync.Mutex
	ids   map[string]uint32 // Notification.Key -> id of the one on screen
}

func newSystemSender(logger *slog.Logger) sender {
	return &dbusSender{log: logger, ids: make(map[string]uint32)}
}

func (s *dbusSender) connect() error {
	if s.conn != nil && s.conn.Connected() {
		return nil
	}
	s.closeLocked()
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return fmt.Errorf("tray: notifications: connect to session bus: %w", err)
	}
	n, err := notify.New(conn,
		notify.WithLogger(log.New(io.Discard, "", 0)),
		notify.WithOnClosed(func(sig *notify.NotificationClosedSignal) {
			s.idsMu.Lock()
			defer s.idsMu.Unlock()
			for k, id := range s.ids {
				if id == sig.ID {
					delete(s.ids, k)
				}
			}
		}))
	if err != nil {
		conn.Close()
		return fmt.Errorf("tray: notifications: %w", err)
	}
	s.conn, s.n = conn, n
	return nil
}

// Send shows note, replacing the one on screen with the same Key.
func (s *dbusSender) Send(note Notification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(); err != nil {
		return err
	}
	urgency := notify.UrgencyNormal
	if note.Urgent {
		urgency = notify.UrgencyCritical
	}
	s.idsMu.Lock()
	replaces := s.ids[note.Key]
	s.idsMu.Unlock()
	msg := notify.Notification{
		AppName:       "clearway",
		ReplacesID:    replaces,
		AppIcon:       "clearway",
		Summary:       note.Summary,
		Body:          note.Body,
		ExpireTimeout: notify.ExpireTimeoutSetByNotificationServer,
	}
	msg.SetUrgency(urgency)
	msg.AddHint(notify.Hint{ID: "desktop-entry", Variant: dbus.MakeVariant("clearway")})
	id, err := s.n.SendNotification(msg)
	if err != nil {
		if !s.conn.Connected() {
			s.closeLocked() // reconnect next time
		}
		return fmt.Errorf("tray: notify: %w", err)
	}
	if note.Key != "" {
		s.idsMu.Lock()
		s.ids[note.Key] = id
		s.idsMu.Unlock()
	}
	return nil
}

// Close closes the private connection.
func (s *dbusSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
	return nil
}

func (s *dbusSender) closeLocked() {
	if s.n != nil {
		_ = s.n.Close() // stops its signal loop; the connection stays ours
	}
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.n, s.conn = nil, nil
}
