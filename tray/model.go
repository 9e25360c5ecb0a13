package tray

import "github.com/clearway/clearway/app/view"

// action is what clicking a menu entry does. The zero value, actNone, marks
// an entry that only shows information.
type action int

const (
	actNone action = iota
	actStart
	actStop
	actCopyBaseURL
	actCopyClaude
	actCopyOpenAI
	actClearCookies // Arg: upstream name
	actSetKey       // Arg: key name
	actRemoveKey    // Arg: key name
	actNotifications
	actStartAtLogin
	actOpenConfig
	actOpenLogs
	actDiagnose
	actOpenDashboard
	actQuit
)

// entry is one line of the menu as the pure model describes it; the tray
// turns a []entry into systray items. Building the model is separate from
// showing it so that labels and structure are table-tested without a tray.
type entry struct {
	Label     string
	Disabled  bool
	Checkbox  bool // a check mark item
	Checked   bool
	Separator bool
	Action    action
	Arg       string // the upstream or key the action concerns
	Children  []entry
}

func info(label string) entry { return entry{Label: label, Disabled: true} }

func separator() entry { return entry{Separator: true} }

func button(label string, a action, arg string) entry {
	return entry{Label: label, Action: a, Arg: arg}
}

// buildModel lays out the whole menu for s. The order is fixed:
// status, Start/Stop, the copy actions, the Upstreams and API keys
// submenus, the two preferences, the two "Open" actions, Run diagnostics
// and Quit.
func buildModel(s view.Snapshot) []entry {
	m := []entry{info(statusLine(s))}
	if l := todayLine(s); l != "" {
		m = append(m, info(l))
	}
	if p := problemLine(s); p != "" {
		m = append(m, info(p))
	}
	if l := sharedLine(s); l != "" {
		m = append(m, info(l))
	}
	toggle := actStart
	if stopToggles(s) {
		toggle = actStop
	}
	m = append(m,
		separator(),
		button(toggleLabel(s), toggle, ""),
		separator(),
		enabledIf(button("Copy base URL", actCopyBaseURL, ""), s.BaseURL != ""),
		enabledIf(button("Copy Claude Code setup", actCopyClaude, ""), s.BaseURL != ""),
		enabledIf(button("Copy OpenAI setup", actCopyOpenAI, ""), s.BaseURL != ""),
		enabledIf(button("Open dashboard", actOpenDashboard, ""), s.Running()),
		separator(),
		upstreamsMenu(s),
		keysMenu(s),
		separator(),
		entry{Label: "Notifications", Checkbox: true, Checked: s.Notifications, Action: actNotifications},
		entry{Label: "Start at login", Checkbox: true, Checked: s.StartAtLogin, Action: actStartAtLogin},
		separator(),
		enabledIf(button("Open config file", actOpenConfig, ""), s.ConfigPath != ""),
		enabledIf(button("Open log folder", actOpenLogs, ""), s.LogDir != ""),
		button("Run diagnostics", actDiagnose, ""),
		separator(),
		button("Quit", actQuit, ""),
	)
	return m
}

func enabledIf(e entry, ok bool) entry {
	e.Disabled = !ok
	return e
}

func upstreamsMenu(s view.Snapshot) entry {
	sub := entry{Label: upstreamsTitle(s)}
	if len(s.Upstreams) == 0 {
		sub.Children = []entry{info("No upstreams configured")}
		return sub
	}
	for _, u := range s.Upstreams {
		children := []entry{info(u.URL), info(upstreamCounters(u))}
		for _, l := range u.RateLimits {
			children = append(children, info(headroomLine(l)))
		}
		children = append(children,
			info(cookiesLabel(u)),
			enabledIf(button("Clear cookies", actClearCookies, u.Name), u.Cookies > 0),
		)
		sub.Children = append(sub.Children, entry{Label: upstreamLabel(u), Children: children})
	}
	return sub
}

func keysMenu(s view.Snapshot) entry {
	sub := entry{Label: keysTitle(s)}
	if len(s.Keys) == 0 {
		sub.Children = []entry{info("No keys configured")}
		return sub
	}
	for _, k := range s.Keys {
		sub.Children = append(sub.Children, entry{
			Label: keyLabel(k),
			Children: []entry{
				info(keyUsedBy(k)),
				button("Set from clipboard", actSetKey, k.Name),
				enabledIf(button("Remove", actRemoveKey, k.Name), k.Set),
			},
		})
	}
	return sub
}

// sameShape reports whether b can be shown by updating the items built for
// a in place (labels, enabled and checked states), without rebuilding the
// menu: the same entries in the same places, doing the same things.
func sameShape(a, b []entry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Separator != y.Separator || x.Checkbox != y.Checkbox || x.Action != y.Action ||
			x.Arg != y.Arg || (len(x.Children) == 0) != (len(y.Children) == 0) ||
			!sameShape(x.Children, y.Children) {
			return false
		}
	}
	return true
}
