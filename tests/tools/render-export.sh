#!/usr/bin/env bash
# Render an HTML export in a real headless browser, as a person would see it
# on screen (PNG) and on paper (PDF). Run on demand, not by the suite:
#   tests/tools/render-export.sh FILE.html [OUT_DIR]
# Needs Debian's chromium (apt-get install chromium). Nothing is fetched:
# the page is self-contained, and the browser is kept off the network.
set -euo pipefail
page=${1:?usage: render-export.sh FILE.html [OUT_DIR]}
out=${2:-$(dirname "$page")}
[ -f "$page" ] || { echo "no such file: $page" >&2; exit 1; }
command -v chromium >/dev/null || { echo "chromium is not installed: apt-get install chromium" >&2; exit 1; }
mkdir -p "$out"
url="file://$(realpath "$page")"
name=$(basename "$page" .html)
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>')
chromium "${flags[@]}" --window-size=1000,1400 --screenshot="$out/$name.png" "$url" 2>/dev/null
chromium "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$out/$name.pdf" "$url" 2>/dev/null
echo "$out/$name.png"
echo "$out/$name.pdf"
