#!/usr/bin/env bash
# Writes casevault's man pages, generated from its command definitions by
# swift-argument-parser's generate-manual tool (one page per command:
# casevault.1, casevault.case.1, casevault.find.1, …), into DIR.
#   scripts/make-man-pages.sh PATH-TO-CASEVAULT DIR
set -euo pipefail
casevault="${1:?usage: scripts/make-man-pages.sh PATH-TO-CASEVAULT DIR}"
dir="${2:?usage: scripts/make-man-pages.sh PATH-TO-CASEVAULT DIR}"
cd "$(dirname "$0")/.."
swift build --product generate-manual >&2
install -d "$dir"
"$(swift build --show-bin-path)/generate-manual" "$casevault" --multi-page --authors "casevault developers" --output-directory "$dir"
rm -f "$dir/casevault.agent.1"  # the agent is started by `casevault unlock`, not by hand
chmod 0644 "$dir"/casevault*.1
echo "man pages: $(ls "$dir"/casevault*.1 | wc -l) in $dir" >&2
