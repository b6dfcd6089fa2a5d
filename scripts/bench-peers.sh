#!/usr/bin/env bash
# casevault beside its peers, on the same inputs in one run (issue 12, item 7):
# whole-process medians from hyperfine, and ratios, written to bench/RESULTS.md.
#
#   make bench-peers          (builds the release binary, installs age, restic,
#                              libarchive-tools and hyperfine from Debian if missing)
#
# BENCH_DIR (default: .build/bench-peers, on the checkout's disk) holds the
# inputs and repositories; BENCH_RUNS (default 5) runs per command;
# BENCH_MIB (default 256) the size of the large file; BENCH_FORMS (default
# 2000) the number of small forms.
set -euo pipefail
cd "$(dirname "$0")/.."
casevault="${1:?usage: scripts/bench-peers.sh PATH-TO-RELEASE-CASEVAULT}"
casevault="$(cd "$(dirname "$casevault")" && pwd)/$(basename "$casevault")"
runs="${BENCH_RUNS:-5}"
mib="${BENCH_MIB:-256}"
forms="${BENCH_FORMS:-2000}"
work="${BENCH_DIR:-$PWD/.build/bench-peers}"
repo="$PWD"

# -------------------------------------------------------------- the peers
packages=(age restic hyperfine libarchive-tools)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# -------------------------------------------------------------- the inputs
# The last run's folder (some 5 GB and 14,000 files) is moved aside now and
# deleted after the timed runs: on ext4 without a journal, creating files
# soon after deleting thousands makes the kernel scan the recently freed
# inodes, which put up to 2-4 times the system time into the first timed
# runs (bulk filing: 1.42-1.81 s in one run, 1.29-1.37 s on copies later).
for old in "$work" "$work".old.*; do
    if [ -e "$old" ]; then mv "$old" "$work.old.$$.$RANDOM"; fi
done
mkdir -p "$work/forms" "$work/results" "$work/export"
cd "$work"
export CASEVAULT_DIR="$work/vault" CASEVAULT_STATE_DIR="$work/state" XDG_RUNTIME_DIR="$work/run"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export RESTIC_PASSWORD="bench only, not a secret"
echo "==> inputs: one ${mib} MiB file, ${forms} forms of 2 KiB, four ${mib} MiB documents for the export"
head -c $((mib * 1048576)) /dev/urandom > big.bin
python3 - "$forms" "$repo/Schemas/examples/home-visit.json" <<'PY'
import json, sys
count, example = int(sys.argv[1]), json.load(open(sys.argv[2]))
rows = ["case,path,form,name"]
for i in range(count):
    form = dict(example)
    form["childsViews"] = (form["childsViews"] + f" Visit {i}: " + "the placement is calm. " * 40)[:1200]
    text = json.dumps(form, ensure_ascii=False)
    text += " " * max(0, 2048 - len(text.encode()))  # 2 KiB each, whitespace the parser ignores
    open(f"forms/visit-{i:05d}.json", "w").write(text)
    rows.append(f"CP-2024-0001,forms/visit-{i:05d}.json,home-visit,Home visit {i:05d}")
open("forms.csv", "w").write("\n".join(rows) + "\n")
PY
for i in 1 2 3 4; do head -c $((mib * 1048576)) /dev/urandom > "export/part-$i.bin"; done

# -------------------------------------------------------------- the vault
# The real key derivation (interactive cost); every member unlocks once
# (casevault unlock), as a records officer would for a day's filing, so the
# timed commands do no key derivation.
for id in amina farah grace halima; do printf '%s bench passphrase\n' "$id" > "$id.pw"; done
"$casevault" init --vault "$CASEVAULT_DIR" --id amina --name "Amina Admin" --new-passphrase-file amina.pw --kdf interactive >/dev/null
for spec in "farah|Farah Records|records-officer" "grace|Grace Manager|case-manager" "halima|Halima Supervisor|case-supervisor"; do
    IFS='|' read -r id name role <<<"$spec"
    "$casevault" staff add --as amina --passphrase-file amina.pw --id "$id" --name "$name" --role "$role" --new-passphrase-file "$id.pw" >/dev/null
done
"$casevault" case open --as halima --passphrase-file halima.pw --category CP --admitted 2024 --client 1 --manager grace --supervisor halima >/dev/null
"$casevault" case open --as halima --passphrase-file halima.pw --category CP --admitted 2024 --client 2 --manager grace --supervisor halima >/dev/null
for id in farah grace; do "$casevault" unlock --as "$id" --passphrase-file "$id.pw" --idle 2h >/dev/null; done
trap '"$casevault" lock --all >/dev/null 2>&1 || true' EXIT
# The export's case: four large documents, filed once (not timed).
for i in 1 2 3 4; do "$casevault" file CP-2024-0002 "export/part-$i.bin" --type document --as farah >/dev/null; done
# One retrieval source for get and age -d.
"$casevault" file CP-2024-0001 big.bin --type document --name "Retrieval source" --as farah >/dev/null
age-keygen -o age.key 2>/dev/null
recipient="$(age-keygen -y age.key)"
age -r "$recipient" -o big.age big.bin

# -------------------------------------------------------------- the runs
hf() {  # name, then hyperfine arguments (one warm-up run each)
    local name="$1"; shift
    echo "==> $name"
    hyperfine --style basic --warmup 1 --runs "$runs" --export-json "results/$name.json" "$@"
}
# casevault fsyncs the object and the catalog before it reports a filing;
# age does not sync, so a third run of age is followed by sync(1) of its output.
hf file-vs-age \
    -n "casevault file" --prepare "true" "$casevault file CP-2024-0001 big.bin --type document --name Big --as farah" \
    -n "age -r" --prepare "rm -f out.age" "age -r $recipient -o out.age big.bin" \
    -n "age -r, then sync of its output" --prepare "rm -f out.age" "age -r $recipient -o out.age big.bin && sync out.age"
hf file-vs-restic \
    -n "casevault file" --prepare "true" "$casevault file CP-2024-0001 big.bin --type document --name Big --as farah" \
    -n "restic backup" --prepare "rm -rf repo && restic init -q -r repo" "restic -q -r repo backup big.bin"
# casevault get -o makes the file durable before it reports (direct writes,
# then fsync); age does not, so a third run of age is followed by sync(1).
hf get-vs-age \
    -n "casevault get -o" --prepare "rm -f out.bin" "$casevault get CP-2024-0001 'Retrieval source' -o out.bin --as grace" \
    -n "age -d -o" --prepare "rm -f out.bin" "age -d -i age.key -o out.bin big.age" \
    -n "age -d -o, then sync of its output" --prepare "rm -f out.bin" "age -d -i age.key -o out.bin big.age && sync out.bin"
hf bulk-vs-restic \
    -n "casevault file --manifest" --prepare "true" "$casevault file --manifest forms.csv --again --as farah" \
    -n "restic backup" --prepare "rm -rf repo && restic init -q -r repo" "restic -q -r repo backup forms"
# The export reads every object from the device (objects are written and
# read directly, never left in the page cache); bsdtar reads its plaintext
# from the page cache, where it was written. A fourth run first drops the
# plaintext from the page cache (synced, then dd's nocache: posix_fadvise
# DONTNEED), so bsdtar reads it from the device as the export does; a fifth
# does both, the device's whole work of the export.
hf export-vs-bsdtar \
    -n "casevault export handover" --prepare "rm -f out.cvp" "$casevault export handover --cases CP-2024-0002 --to grace --out out.cvp --as grace" \
    -n "bsdtar -cf" --prepare "rm -f out.tar" "bsdtar -cf out.tar export" \
    -n "bsdtar -cf, then sync of its output" --prepare "rm -f out.tar" "bsdtar -cf out.tar export && sync out.tar" \
    -n "bsdtar -cf, its input read from the device" \
    --prepare "rm -f out.tar && sync export/* && for f in export/*; do dd if=\"\$f\" iflag=nocache count=0 status=none; done" \
    "bsdtar -cf out.tar export" \
    -n "bsdtar -cf, its input read from the device, then sync of its output" \
    --prepare "rm -f out.tar && sync export/* && for f in export/*; do dd if=\"\$f\" iflag=nocache count=0 status=none; done" \
    "bsdtar -cf out.tar export && sync out.tar"
rm -f out.age out.bin out.cvp out.tar
# What bounds the figures: the in-memory rates of the work every byte needs
# (secretstream, BLAKE3, BLAKE2b, SHA-256), from casevault-bench beside the binary.
bench="$(dirname "$casevault")/casevault-bench"
if [ -x "$bench" ]; then
    echo "==> primitives"
    (cd "$repo" && CASEVAULT_BENCH_ONLY=primitives "$bench" "$casevault") | tail -1 > results/primitives.json
fi

# -------------------------------------------------------------- the report
cd "$repo"
mkdir -p bench
python3 scripts/bench-peers-report.py "$work" "$mib" "$forms" "$runs" "$casevault" > bench/RESULTS.md
rm -rf "$work".old.*
cat bench/RESULTS.md
