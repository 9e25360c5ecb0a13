#!/usr/bin/env bash
# build/macos/build-app.sh: build clearway.app (universal: arm64 + x86_64) and its zip.
#
#   build/macos/build-app.sh [OUTDIR]                  on a Mac with Xcode's command line tools
#   build/macos/build-app.sh --layout-only [OUTDIR]    anywhere: the bundle without the binary
#
# The menu-bar icon (fyne.io/systray) needs cgo and the macOS SDK on macOS, so
# the app cannot be cross-built on Linux; --layout-only lets CI check the rest
# (Info.plist, the .icns made with github.com/jackmordaunt/icns).
#
# Output (OUTDIR, default dist/ at the repository root):
#   clearway.app/Contents/{Info.plist, MacOS/clearway, Resources/clearway.icns}
#   clearway-VERSION-macos-universal.zip   (ditto, keeps the signature)
#
# Environment:
#   CLEARWAY_VERSION, CLEARWAY_COMMIT, CLEARWAY_DATE   stamps (default as build/dist.sh)
#   CLEARWAY_MACOS_IDENTITY   codesign identity, e.g. "Developer ID Application: ..."
#                             (default "-": ad-hoc, enough to run locally; Gatekeeper
#                             asks the user to confirm a downloaded ad-hoc app)
#   CLEARWAY_NOTARY_PROFILE   a `xcrun notarytool store-credentials` profile: notarize
#                             and staple (needs a Developer ID identity)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

LAYOUT_ONLY=0
if [[ ${1:-} == --layout-only ]]; then
	LAYOUT_ONLY=1
	shift
fi
OUT=${1:-$ROOT/dist}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'build-app.sh: %s\n' "$*" >&2
	exit 1
}

if [[ $LAYOUT_ONLY == 0 && $(uname -s) != Darwin ]]; then
	die "run this on macOS (the tray needs cgo and the macOS SDK there); --layout-only works anywhere"
fi
command -v go >/dev/null || die "go is missing (https://go.dev/dl)"

# ---------------------------------------------------------------- stamps
VERSION=${CLEARWAY_VERSION:-}
if [[ -z $VERSION ]]; then
	VERSION=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || true)
	VERSION=${VERSION#v}
fi
[[ -n $VERSION ]] || VERSION=$(tr -d ' \n' <build/VERSION)
[[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)(-[0-9A-Za-z.]+)?$ ]] ||
	die "version '$VERSION' is not MAJOR.MINOR.PATCH[-PRERELEASE]"
BUNDLE_VERSION="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
COMMIT=${CLEARWAY_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
DATE=${CLEARWAY_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
YEAR=${DATE:0:4}
LDFLAGS="-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"

# ---------------------------------------------------------------- bundle layout
APP="$OUT/clearway.app"
rm -rf "$APP"
mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
sed -e "s/@VERSION@/$VERSION/g" -e "s/@BUNDLE_VERSION@/$BUNDLE_VERSION/g" -e "s/@COPYRIGHT_YEAR@/$YEAR/g" \
	build/macos/Info.plist >"$APP/Contents/Info.plist"
printf 'APPL????' >"$APP/Contents/PkgInfo"
log "icon: assets/icon/clearway-512.png -> clearway.icns"
go -C build/tools run ./mkicns "$ROOT/assets/icon/clearway-512.png" "$APP/Contents/Resources/clearway.icns"

if [[ $LAYOUT_ONLY == 1 ]]; then
	log "layout only: $APP (no binary)"
	exit 0
fi

# ---------------------------------------------------------------- binary
command -v lipo >/dev/null || die "lipo is missing: xcode-select --install"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export CGO_ENABLED=1 MACOSX_DEPLOYMENT_TARGET=12.0
for arch in arm64 amd64; do
	clang_arch=$arch
	[[ $arch == amd64 ]] && clang_arch=x86_64
	log "darwin/$arch: go build (cgo)"
	CC="clang -arch $clang_arch" GOOS=darwin GOARCH=$arch \
		go build -trimpath -ldflags "$LDFLAGS" -o "$WORK/clearway-$arch" .
done
lipo -create -output "$APP/Contents/MacOS/clearway" "$WORK/clearway-arm64" "$WORK/clearway-amd64"
plutil -lint "$APP/Contents/Info.plist" >/dev/null

# ---------------------------------------------------------------- sign, notarize, zip
IDENTITY=${CLEARWAY_MACOS_IDENTITY:--}
if [[ $IDENTITY == - ]]; then
	log "codesign: ad-hoc"
	codesign --force --sign - "$APP"
else
	log "codesign: $IDENTITY (hardened runtime)"
	codesign --force --options runtime --timestamp --sign "$IDENTITY" "$APP"
fi
codesign --verify --strict --verbose=2 "$APP"

ZIP="$OUT/clearway-$VERSION-macos-universal.zip"
rm -f "$ZIP"
ditto -c -k --sequesterRsrc --keepParent "$APP" "$ZIP"
if [[ -n ${CLEARWAY_NOTARY_PROFILE:-} ]]; then
	log "notarize: $ZIP"
	xcrun notarytool submit "$ZIP" --keychain-profile "$CLEARWAY_NOTARY_PROFILE" --wait
	xcrun stapler staple "$APP"
	rm -f "$ZIP"
	ditto -c -k --sequesterRsrc --keepParent "$APP" "$ZIP"
fi
"$APP/Contents/MacOS/clearway" version
log "built $ZIP ($(stat -f %z "$ZIP") bytes)"
