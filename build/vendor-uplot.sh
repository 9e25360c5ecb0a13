#!/usr/bin/env bash
# Refreshes the dashboard's vendored chart library, uPlot, from the npm registry
# at a pinned version, checking npm's published sha512 integrity, and writes
# the files the dashboard embeds plus their licence and SHA-256 checksums.
#
#   ./build/vendor-uplot.sh [VERSION]     (default: the pinned version below)
#
# Nothing is downloaded at run time or build time: the output is committed in
# assets/dashboard/vendor/. Run this only to move to another uPlot version.
set -euo pipefail
VERSION=${1:-1.6.32}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/assets/dashboard/vendor
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cd "$TMP"
want=$(npm view "uplot@$VERSION" dist.integrity)
npm pack --silent "uplot@$VERSION" >/dev/null
tgz=uplot-$VERSION.tgz
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [[ $got != "$want" ]]; then
	echo "vendor-uplot: integrity mismatch for uplot@$VERSION: npm says $want, file is $got" >&2
	exit 1
fi
tar -xzf "$tgz"
mkdir -p "$OUT"
cp package/dist/uPlot.iife.min.js "$OUT/uPlot.iife.min.js"
cp package/dist/uPlot.min.css "$OUT/uPlot.min.css"
cp package/LICENSE "$OUT/uPlot.LICENSE"
cd "$OUT"
{
	echo "# uplot@$VERSION from the npm registry, npm integrity $want"
	sha256sum uPlot.iife.min.js uPlot.min.css uPlot.LICENSE
} >SHA256SUMS
echo "vendor-uplot: uplot@$VERSION written to $OUT"
