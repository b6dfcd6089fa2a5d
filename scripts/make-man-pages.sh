#!/usr/bin/env bash
# Writes casevault's man pages, generated from its command definitions by
# swift-argument-parser's generate-manual plugin (one page per command:
# casevault.1, casevault.case.1, casevault.find.1, …), into DIR.
set -euo pipefail
dir="${1:?usage: scripts/make-man-pages.sh DIR}"
cd "$(dirname "$0")/.."
swift package --disable-sandbox plugin generate-manual --multi-page --configuration release \
    --authors "casevault developers" >&2
out=".build/plugins/GenerateManual/outputs/casevault"
ls "$out"/*.1 >/dev/null 2>&1 || { echo "make-man-pages: no pages in $out" >&2; exit 1; }
install -d "$dir"
install -m 0644 "$out"/*.1 "$dir"/
echo "man pages: $(ls "$out"/*.1 | wc -l) in $dir" >&2
