#!/usr/bin/env bash
# Fuzzes the handover package reader (`package open`) with libFuzzer for a
# bounded time, then replays what it found with the normal build.
#   scripts/fuzz.sh [SECONDS]      (default 600)
# The corpus starts from the hostile archives of the archive tests and a
# real package's tar; new inputs go to .build/fuzz/corpus, crashes to
# .build/fuzz/crashes. Exit 0 when nothing crashed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
scratch=.build/fuzz
mkdir -p "$scratch/corpus" "$scratch/crashes"
cp -n Tests/CaseVaultArchiveTests/Fixtures/*.tar Tests/CaseVaultArchiveTests/Fixtures/*.zip "$scratch/corpus/" 2>/dev/null || true
# A well-formed package's inner tar: a folder, a file, and a manifest naming it.
python3 - "$scratch/corpus/valid-package.tar" <<'PY'
import hashlib, io, json, sys, tarfile
body = b"Home visit: all well.\n"
manifest = {"format": "casevault-export-manifest", "formatVersion": 1, "kind": "handover",
            "recipient": {"staffId": "fuzz", "publicKey": "00" * 32},
            "cases": [{"number": "CP-2024-0042", "entries": [{"path": "CP-2024-0042 [O]/Home visit.txt", "version": 1,
                       "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}]}]}
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
    folder = tarfile.TarInfo("CP-2024-0042 [O]"); folder.type = tarfile.DIRTYPE; tar.addfile(folder)
    for name, data in [("CP-2024-0042 [O]/Home visit.txt", body), ("MANIFEST.json", json.dumps(manifest).encode())]:
        info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
open(sys.argv[1], "wb").write(out.getvalue())
PY
swift build --scratch-path "$scratch/build" --product casevault-fuzz -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address
binary="$(swift build --scratch-path "$scratch/build" --product casevault-fuzz -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address --show-bin-path)/casevault-fuzz"
echo "fuzzing the package reader for $seconds s"
status=0
"$binary" "$scratch/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/crashes/" -print_final_stats=1 || status=$?
crashes=$(find "$scratch/crashes" -type f | wc -l)
echo "corpus: $(find "$scratch/corpus" -type f | wc -l) inputs; crashes, leaks or timeouts saved: $crashes"
exit $status
