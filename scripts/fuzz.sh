#!/usr/bin/env bash
# Fuzzes the handover package reader (`package open`) and the case-transfer
# reader (`import case`: the sealed tar, then the history's parser and
# verifier) with libFuzzer for a bounded time.
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
# A well-formed transfer's inner tar and history (unsigned: they reach the
# history's parser and the first checks of its verifier).
python3 - "$scratch/corpus/valid-transfer.tar" "$scratch/corpus/history.json" <<'PY'
import hashlib, io, json, sys, tarfile
def canon(v): return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
event = canon({"actor": "amina", "at": "2026-01-01T00:00:00Z", "data": {}, "seq": 1, "state": "00" * 32,
               "type": "vault.created", "v": 2, "vault": "00000000-0000-0000-0000-000000000001"}).decode()
history = canon({"format": "casevault-case-history-v1", "case": "CP-2024-0042", "fromVault": "00000000-0000-0000-0000-000000000001",
                 "checkpoint": "casevault/00000000-0000-0000-0000-000000000001\n1\n" + "A" * 43 + "=\n\n",
                 "events": [{"body": event, "signature": "00" * 64, "proof": []}],
                 "records": [{"key": "case/CP-2024-0042", "value": None}],
                 "nodes": [{"path": "0000", "kind": 0, "hash": "00" * 32, "first": "00" * 32, "second": "00" * 32}]})
blob = b"\x01" * 80
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for name, data in [("history.json", history), ("keys.json", canon({"team": {}, "confidential": {}})),
                       ("blobs/" + hashlib.blake2b(blob, digest_size=32).hexdigest(), blob),
                       ("objects/" + hashlib.blake2b(b"object", digest_size=32).hexdigest(), b"object")]:
        info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
open(sys.argv[1], "wb").write(out.getvalue())
open(sys.argv[2], "wb").write(history)
PY
swift build --scratch-path "$scratch/build" --product casevault-fuzz -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address
binary="$(swift build --scratch-path "$scratch/build" --product casevault-fuzz -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address --show-bin-path)/casevault-fuzz"
echo "fuzzing the package and transfer readers for $seconds s"
status=0
"$binary" "$scratch/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$scratch/crashes/" -print_final_stats=1 || status=$?
crashes=$(find "$scratch/crashes" -type f | wc -l)
echo "corpus: $(find "$scratch/corpus" -type f | wc -l) inputs; crashes, leaks or timeouts saved: $crashes"
exit $status
