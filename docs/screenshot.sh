#!/usr/bin/env bash
# Open an amlab report page in headless Chromium, check it, and save a screenshot.
#
#   docs/screenshot.sh [REPORT_DIR] [OUTPUT_PNG] [HEIGHT]
#
# Defaults: REPORT_DIR=amlab-out/report (run `amlab report --quick --out amlab-out/report` first),
# OUTPUT_PNG=docs/figures/report-screenshot.png, HEIGHT=3200 (the top of the page, in pixels; "full"
# for the whole page). The page is served over http://127.0.0.1 and loaded by playwright in
# Debian's Chromium (apt-get install -y chromium; pip install -e '.[test]' for playwright); it
# exits 1 when an image does not load, the console logs an error or a request fails.
# tests/test_report_browser.py runs the same check on a smoke-scale report (AMLAB_WRITE_SCREENSHOT=1
# sends its screenshot here).
set -euo pipefail

report_dir="${1:-amlab-out/report}"
output="${2:-docs/figures/report-screenshot.png}"
height="${3:-3200}"
[ -f "$report_dir/index.html" ] || {
  echo "no $report_dir/index.html: run 'amlab report --quick --out $report_dir' first" >&2; exit 2; }
[ -x /usr/bin/chromium ] || { echo "no /usr/bin/chromium (apt-get install -y chromium)" >&2; exit 2; }

if [ "$height" = "full" ]; then
  exec python -m simulations.report_browser "$report_dir" "$output"
fi
exec python -m simulations.report_browser "$report_dir" "$output" --height "$height"
