//go:build !darwin || cgo

package tray

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"fyne.io/systray"

	"github.com/clearway/clearway/app/view"
	"github.com/clearway/clearway/assets"
	"github.com/clearway/clearway/proxy/events"
)

// menu is the tray's menu and icon. apply, rebuild and update run on the
// watch goroutine only; click handlers run on their own goroutines and talk
// to the app, never to the menu items.
type menu struct {
	ctx  context.Context // the tray's lifetime
	app  App
	opts Options

	notes        *notifier
	events       <-chan events.Event
	cancelEvents func()

	kick chan struct{} // asks watch for an apply (buffered, 1)

	// Owned by the watch goroutine.
	model       []entry
	nodes       []node
	buildCancel context.CancelFunc
	icon        assets.State
	iconSet     bool
	tip         string
}

// node is a built menu item and its children; separators have no item.
type node struct {
	item     *systray.MenuItem
	children []node
}

func newMenu(ctx context.Context, app App, opts Options) *menu {
	m := &menu{ctx: ctx, app: app, opts: opts, kick: make(chan struct{}, 1)}
	m.notes = &notifier{app: app, send: newSystemSender(opts.Logger), now: time.Now, log: opts.Logger}
	m.events, m.cancelEvents = app.Events(eventBuffer)
	return m
}

// refresh asks for the menu to be brought up to date with the app.
func (m *menu) refresh() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// apply shows s: icon, tooltip, and the menu, updated in place when only
// labels or states changed and rebuilt otherwise.
func (m *menu) apply(s view.Snapshot) {
	if ic := iconState(s); !m.iconSet || ic != m.icon {
		setIcon(ic)
		m.icon, m.iconSet = ic, true
	}
	if tip := tooltip(s); tip != m.tip {
		systray.SetTooltip(tip)
		m.tip = tip
	}
	model := buildModel(s)
	if m.nodes != nil && sameShape(m.model, model) {
		update(m.nodes, m.model, model)
		m.opts.Logger.Debug("tray: menu updated in place")
	} else {
		m.rebuild(model)
		m.opts.Logger.Debug("tray: menu rebuilt")
	}
	m.model = model
}

// rebuild replaces the whole menu. systray can neither list items nor remove
// separators, so a change of structure builds everything afresh (as
// tailscale's tray does), with a new context that ends the previous build's
// click handlers.
func (m *menu) rebuild(model []entry) {
	if m.buildCancel != nil {
		m.buildCancel()
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.buildCancel = cancel
	systray.ResetMenu()
	m.nodes = m.add(ctx, nil, model)
}

// add creates the items for es under parent (nil: the top level).
func (m *menu) add(ctx context.Context, parent *systray.MenuItem, es []entry) []node {
	nodes := make([]node, len(es))
	for i, e := range es {
		if e.Separator {
			if parent == nil {
				systray.AddSeparator()
			} else {
				parent.AddSeparator()
			}
			continue
		}
		var it *systray.MenuItem
		switch {
		case parent == nil && e.Checkbox:
			it = systray.AddMenuItemCheckbox(e.Label, "", e.Checked)
		case parent == nil:
			it = systray.AddMenuItem(e.Label, "")
		case e.Checkbox:
			it = parent.AddSubMenuItemCheckbox(e.Label, "", e.Checked)
		default:
			it = parent.AddSubMenuItem(e.Label, "")
		}
		if e.Disabled {
			it.Disable()
		}
		nodes[i] = node{item: it, children: m.add(ctx, it, e.Children)}
		if e.Action != actNone {
			m.onClick(ctx, it, e.Action, e.Arg)
		}
	}
	return nodes
}

// update brings items built for old up to date with new, which has the same shape.
func update(nodes []node, old, new []entry) {
	for i, e := range new {
		n, o := nodes[i], old[i]
		if n.item == nil {
			continue
		}
		if o.Label != e.Label {
			n.item.SetTitle(e.Label)
		}
		if o.Disabled != e.Disabled {
			if e.Disabled {
				n.item.Disable()
			} else {
				n.item.Enable()
			}
		}
		if e.Checkbox && o.Checked != e.Checked {
			if e.Checked {
				n.item.Check()
			} else {
				n.item.Uncheck()
			}
		}
		update(n.children, o.Children, e.Children)
	}
}

// onClick runs the action on every click of item until ctx ends. The
// handler returns at once: systray drops clicks that arrive while nobody
// reads ClickedCh, so the work goes to its own goroutine.
func (m *menu) onClick(ctx context.Context, item *systray.MenuItem, a action, arg string) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-item.ClickedCh:
				if !ok {
					return // the item was removed
				}
				go m.do(a, arg)
			}
		}
	}()
}

// do performs one clicked action and tells the user how it went.
func (m *menu) do(a action, arg string) {
	defer m.refresh()
	s, _ := m.app.Snapshot()
	switch a {
	case actStart, actStop:
		// No lock here: the app's lifecycle orders concurrent requests (the
		// last one wins), so a Stop clicked during a slow Start stops it.
		if a == actStart {
			m.check("Could not start the proxy", m.app.Start())
		} else {
			m.check("Could not stop the proxy", m.app.Stop())
		}
	case actCopyBaseURL:
		if m.copy(s.BaseURL) {
			m.feedback("Copied base URL", s.BaseURL)
		}
	case actCopyClaude, actCopyOpenAI:
		token, err := m.app.ClientToken()
		if !m.check("Could not read the client token", err) {
			return
		}
		text, what := claudeSetup(runtime.GOOS, s.BaseURL, token), "Claude Code"
		if a == actCopyOpenAI {
			text, what = openAISetup(runtime.GOOS, s.BaseURL, token), "OpenAI"
		}
		if m.copy(text) {
			m.feedback("Copied "+what+" setup",
				"Paste it into the shell that starts your client: it points the client at clearway with the local client token.")
		}
	case actClearCookies:
		if m.check("Could not clear the cookies of "+arg, m.app.ClearCookies(arg)) {
			m.feedback("Cleared the cookies of "+arg, "The next request starts a new session.")
		}
	case actSetKey:
		m.setKey(arg)
	case actRemoveKey:
		if m.check("Could not remove API key "+arg, m.app.DeleteKey(arg)) {
			m.feedback("Removed API key "+arg, "It is no longer in the keychain.")
		}
	case actNotifications:
		m.check("Could not change notifications", m.app.SetPreference(view.Notifications, !s.Notifications))
	case actStartAtLogin:
		m.check("Could not change start at login", m.app.SetPreference(view.StartAtLogin, !s.StartAtLogin))
	case actOpenConfig:
		m.openConfig(s.ConfigPath)
	case actOpenDashboard:
		url, err := m.app.DashboardURL()
		if !m.check("Could not open the dashboard", err) {
			return
		}
		m.check("Could not open the dashboard", m.opts.OpenPath(url))
	case actOpenLogs:
		if err := os.MkdirAll(s.LogDir, 0o700); !m.check("Could not open the log folder", err) {
			return
		}
		m.check("Could not open the log folder", m.opts.OpenPath(s.LogDir))
	case actDiagnose:
		m.diagnose()
	case actQuit:
		m.quit()
	}
}

// diagnoseTimeout bounds Run diagnostics; each network check has its own 5 s.
const diagnoseTimeout = 30 * time.Second

// diagnose runs the checks, puts the full report on the clipboard and shows
// the summary and the first problems in a notification.
func (m *menu) diagnose() {
	if m.opts.Diagnose == nil {
		m.feedback("Diagnostics are not available", "Run `clearway doctor` in a terminal.")
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, diagnoseTimeout)
	defer cancel()
	report, summary, problems := m.opts.Diagnose(ctx)
	const shown = 3
	var body strings.Builder
	for i, p := range problems {
		if i == shown {
			fmt.Fprintf(&body, "... and %d more.\n", len(problems)-shown)
			break
		}
		body.WriteString(p + "\n")
	}
	if len(problems) == 0 {
		body.WriteString("Everything clearway needs works here.\n")
	}
	if err := m.opts.Clipboard.WriteAll(report); err != nil {
		m.opts.Logger.Warn("tray: could not copy the diagnostics", "err", err)
		body.WriteString("The full report could not be copied (" + err.Error() + "): run `clearway doctor` in a terminal.")
	} else {
		body.WriteString("The full report is on the clipboard.")
	}
	m.notes.deliver(Notification{Key: "feedback", Summary: "Diagnostics: " + summary, Body: body.String(), Urgent: len(problems) > 0 && strings.HasPrefix(problems[0], "✗")})
}

// setKey stores the clipboard's content as key name after a sanity check.
// The confirmation shows at most the last 4 characters.
func (m *menu) setKey(name string) {
	text, err := m.opts.Clipboard.ReadAll()
	if !m.check("Could not read the clipboard", err) {
		return
	}
	token, err := m.app.ClientToken()
	if err != nil {
		token = "" // the check against the token is a convenience, not a must
	}
	secret, err := checkSecret(text, token)
	if !m.check("API key "+name+" not set", err) {
		return
	}
	if m.check("Could not set API key "+name, m.app.SetKey(name, secret)) {
		m.feedback("API key "+name+" set ("+maskSecret(secret)+")", "It is in the system keychain and in use now.")
	}
}

// openConfig opens the config file, or, when there is none yet, says how
// to create one and opens its folder if that exists.
func (m *menu) openConfig(path string) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		m.feedback("No config file yet", "clearway runs with its built-in defaults. Create "+path+" to change them.")
		if _, err := os.Stat(dir); err == nil {
			m.check("Could not open the config folder", m.opts.OpenPath(dir))
		}
		return
	}
	m.check("Could not open the config file", m.opts.OpenPath(path))
}

// copy puts text on the clipboard, reporting failure.
func (m *menu) copy(text string) bool {
	err := m.opts.Clipboard.WriteAll(text)
	if err != nil && strings.Contains(err.Error(), "No clipboard utilities") {
		err = fmt.Errorf("%w (install xclip, xsel or wl-clipboard)", err)
	}
	return m.check("Could not copy to the clipboard", err)
}

// check reports err (if any) to the log and the user and says whether it was nil.
func (m *menu) check(what string, err error) bool {
	if err == nil {
		return true
	}
	m.opts.Logger.Warn("tray: "+strings.ToLower(what[:1])+what[1:], "err", err)
	m.notes.deliver(Notification{Key: "feedback", Summary: what, Body: sentence(err.Error()), Urgent: true})
	return false
}

// feedback confirms a clicked action. It is shown even with notifications
// of proxy events switched off: the user just asked for it.
func (m *menu) feedback(summary, body string) {
	m.notes.deliver(Notification{Key: "feedback", Summary: summary, Body: body})
}

func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// setIcon shows the icon for st in the form the platform wants: ICO on
// Windows, a template image (plus colour fallback) on macOS, PNG elsewhere.
func setIcon(st assets.State) {
	switch runtime.GOOS {
	case "windows":
		systray.SetIcon(assets.StateICO(st))
	case "darwin":
		systray.SetTemplateIcon(assets.StateTemplate(st), assets.StateIcon(st))
	default:
		systray.SetIcon(assets.StateIcon(st))
	}
}
