#!/usr/bin/env bash
# Open an amlab report page in headless Chromium and save a full-page screenshot.
#
#   docs/screenshot.sh [REPORT_DIR] [OUTPUT_PNG]
#
# Defaults: REPORT_DIR=amlab-out/report (run `amlab report --quick` first),
# OUTPUT_PNG=docs/figures/report-screenshot.png. Needs Chromium (Debian: apt-get install chromium).
# The page is offline (no external CSS/JS), so networking features are switched off.
set -euo pipefail

report_dir="${1:-amlab-out/report}"
output="${2:-docs/figures/report-screenshot.png}"
page="$(cd "$report_dir" && pwd)/index.html"
[ -f "$page" ] || { echo "no $page: run 'amlab report --quick --out $report_dir' first" >&2; exit 2; }

browser="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
[ -n "$browser" ] || { echo "Chromium not found (apt-get install chromium, or set CHROMIUM=...)" >&2; exit 2; }

profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$output")"
output_abs="$(cd "$(dirname "$output")" && pwd)/$(basename "$output")"

"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1280,4000 \
  --virtual-time-budget=5000 --screenshot="$output_abs" "file://$page" 2>/dev/null

[ -s "$output_abs" ] || { echo "no screenshot written" >&2; exit 1; }
echo "wrote $output"
