#!/usr/bin/env bash
# Takes the README screenshot of clearway's tray menu in a real panel:
# Xvfb, a private D-Bus session bus, xfconfd and xfce4-panel (4.18, whose
# "systray" plugin hosts StatusNotifierItems), then the app, a click on its
# icon to open the real GTK menu, the keyboard to unfold Upstreams › openai,
# and `import -window root`. Writes docs/tray-menu.png (cropped to the
# panel's right end and the menu).
#
#   build/screenshot.sh [BINARY [ARGS...]]
#
# Without BINARY it runs the tray test helper in demo mode (a lively state:
# one upstream retrying, requests in flight, a missing key), built with
# `go test -c ./tray`. With BINARY (for example ./clearway) it runs that,
# with HOME and the XDG folders pointed at a temporary directory.
#
# Needs: Xvfb, dbus-daemon, dbus-send, xfce4-panel (+ xfconfd), xdotool,
# ImageMagick (import, convert). OUT=path overrides the output file.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ROOT/docs/tray-menu.png}
XFCONFD=${XFCONFD:-/usr/lib/x86_64-linux-gnu/xfce4/xfconf/xfconfd}
W=1280 H=800

say() { printf '[screenshot] %s\n' "$*" >&2; }
die() {
	printf '[screenshot] FAIL: %s\n' "$*" >&2
	exit 1
}

for tool in Xvfb dbus-daemon dbus-send xfce4-panel xdotool import convert; do
	command -v "$tool" >/dev/null || die "$tool is missing (Debian: xvfb dbus-daemon dbus-bin xfce4-panel xdotool imagemagick)"
done
[[ -x $XFCONFD ]] || XFCONFD=$(find /usr/lib -name xfconfd -type f 2>/dev/null | head -n1)
[[ -x $XFCONFD ]] || die "xfconfd not found (Debian: xfconf)"

TMP=$(mktemp -d /tmp/clearway-shot.XXXXXX)
PIDS=()
cleanup() {
	local rc=$? pid
	if ((rc != 0)) && [[ -n ${DISPLAY:-} ]] && import -window root /tmp/clearway-screenshot-failed.png 2>/dev/null; then
		printf '[screenshot] the screen at failure: /tmp/clearway-screenshot-failed.png\n' >&2
	fi
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	if ((rc != 0)); then
		for f in "$TMP"/*.log; do
			[[ -s $f ]] && { printf '[screenshot] --- %s\n' "${f##*/}" >&2; tail -n 20 "$f" >&2; }
		done
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# poll SECONDS COMMAND...: polls COMMAND until it succeeds; fails after SECONDS.
poll() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	poll "$secs" "$@" || die "$what: not within ${secs}s (logs follow)"
}

# open_submenu DESCRIPTION N KEYS...: presses KEYS until N menus are open.
# A key press that lands while the app updates its menu can be lost, so the
# last key (Right) is pressed again; if the submenu still does not open the
# picture shows less, which is said, not fatal (the check needs the menu).
open_submenu() {
	local what=$1 n=$2
	shift 2
	xdotool key --delay 150 "$@"
	for _ in 1 2 3; do
		poll 3 menus_at_least "$n" && return 0
		xdotool key Right
	done
	say "note: $what did not open; the picture shows less of the menu"
	return 1
}

# The app: a given binary, or the tray test helper in demo mode.
if (($# > 0)); then
	APP=("$@")
	APP_ENV=()
else
	say "building the tray demo (go test -c ./tray)"
	(cd "$ROOT" && go test -c -o "$TMP/traydemo" ./tray)
	APP=("$TMP/traydemo" -test.run='^$')
	APP_ENV=(CLEARWAY_TRAY_HELPER=demo)
fi

export HOME=$TMP/home XDG_CONFIG_HOME=$TMP/config XDG_DATA_HOME=$TMP/data
export XDG_CACHE_HOME=$TMP/cache XDG_STATE_HOME=$TMP/state XDG_RUNTIME_DIR=$TMP/run
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"
mkdir -m 700 "$XDG_RUNTIME_DIR"
export NO_AT_BRIDGE=1 GTK_THEME=Adwaita

say "starting Xvfb"
exec 3>"$TMP/display"
Xvfb -displayfd 3 -screen 0 ${W}x${H}x24 -nolisten tcp -noreset >"$TMP/xvfb.log" 2>&1 &
PIDS+=($!)
exec 3>&-
wait_for "Xvfb display" 10 test -s "$TMP/display"
export DISPLAY=:$(head -n1 "$TMP/display")

say "starting a private session bus"
mkdir "$TMP/services"
cat >"$TMP/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$TMP/bus</listen>
  <servicedir>$TMP/services</servicedir>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$TMP/bus.conf" --nofork --nopidfile >"$TMP/bus.log" 2>&1 &
PIDS+=($!)
export DBUS_SESSION_BUS_ADDRESS=unix:path=$TMP/bus
wait_for "session bus" 10 dbus-send --session --dest=org.freedesktop.DBus --print-reply /org/freedesktop/DBus org.freedesktop.DBus.GetId

has_name() {
	dbus-send --session --dest=org.freedesktop.DBus --print-reply /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner "string:$1" | grep -q 'boolean true'
}

# A panel across the top: a clock on the left, the tray on the right. The
# pre-seeded config skips the first-run dialog.
mkdir -p "$XDG_CONFIG_HOME/xfce4/xfconf/xfce-perchannel-xml"
cat >"$XDG_CONFIG_HOME/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="30"/>
      <property name="icon-size" type="uint" value="22"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
        <value type="int" value="3"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="clock">
      <property name="digital-layout" type="uint" value="3"/>
      <property name="digital-time-format" type="string" value="%a %d %b  %H:%M"/>
    </property>
    <property name="plugin-2" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
    <property name="plugin-3" type="string" value="systray">
      <property name="square-icons" type="bool" value="true"/>
      <property name="icon-size" type="uint" value="22"/>
    </property>
  </property>
</channel>
XML

say "starting xfconfd and xfce4-panel"
"$XFCONFD" >"$TMP/xfconfd.log" 2>&1 &
PIDS+=($!)
wait_for "xfconfd" 10 has_name org.xfce.Xfconf
xfce4-panel --disable-wm-check >"$TMP/panel.log" 2>&1 &
PIDS+=($!)
wait_for "the panel's tray host (org.kde.StatusNotifierWatcher)" 20 has_name org.kde.StatusNotifierWatcher

say "starting ${APP[*]}"
env "${APP_ENV[@]}" "${APP[@]}" >"$TMP/app.log" 2>&1 &
PIDS+=($!)

# The tray icon has no X window of its own (the panel draws it), so find it
# in a screenshot: the right half of the panel is empty but for the icons.
find_icon() {
	import -window root -crop "$((W / 2))x30+$((W / 2))+0" +repage "$TMP/panel.png" 2>/dev/null
	local geo
	geo=$(convert "$TMP/panel.png" -fuzz 8% -trim -format '%w %h %X %Y' info: 2>/dev/null) || return 1
	read -r IW IH IX IY <<<"$geo"
	((IW >= 12 && IW <= 40 && IH >= 12)) || return 1
	ICON_X=$((W / 2 + ${IX#+} + IW / 2))
	ICON_Y=$((${IY#+} + IH / 2))
}
wait_for "the clearway icon in the panel" 20 find_icon
say "icon at $ICON_X,$ICON_Y"

# The menu is ready once the app answers GetLayout with its entries; then
# open it, and unfold Upstreams › openai with the keyboard (GTK menus skip
# separators and insensitive items): Stop, 3 copies, Upstreams.
xdotool mousemove "$ICON_X" "$ICON_Y" click 1
# Menus are override-redirect windows of the panel's plugin process; count
# the visible windows (other than the root) at least 60 px tall.
menus() {
	local w geo n=0
	for w in $(xdotool search --onlyvisible --name '' 2>/dev/null); do
		geo=$(xdotool getwindowgeometry "$w" | sed -n 's/.*Geometry: \([0-9]*\)x\([0-9]*\).*/\1 \2/p')
		read -r ww wh <<<"$geo"
		((wh >= 60 && ww < W)) && n=$((n + 1))
	done
	echo "$n"
}
menus_at_least() { (($(menus) >= $1)); }
wait_for "the tray menu to open" 10 menus_at_least 1
open_submenu "the Upstreams submenu" 2 Down Down Down Down Down Right &&
	open_submenu "the openai submenu" 3 Down Right || true
# Let GTK draw the submenus it just mapped before taking the picture.
sleep 0.5

import -window root "$TMP/full.png"
# Crop to the panel's right end and the menus below it; paint the bare
# X root (pure black) a desktop blue.
convert "$TMP/full.png" -crop 1000x360+$((W - 1000))+0 +repage -fill '#3b4f66' -opaque black "$OUT"
say "wrote $OUT"
