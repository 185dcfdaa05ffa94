#!/usr/bin/env bash
# Debian's chromium, for the HTML report's browser test (tests/reports/test_html.py).
# Idempotent and quiet: does nothing when /usr/bin/chromium exists; without it the test skips.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
export DEBIAN_FRONTEND=noninteractive
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! ($sudo apt-get update -qq && $sudo apt-get install -y -qq chromium) >/dev/null 2>&1; then
    echo "warning: chromium not installed; the browser test of the HTML report will skip" >&2
fi
