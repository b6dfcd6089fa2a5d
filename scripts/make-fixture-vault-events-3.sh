#!/usr/bin/env bash
# Writes Tests/CaseVaultTests/Fixtures/vault-events-format-3: a vault whose
# events are of body format 3, written by casevault at commit c1b6781 (the
# last to write format 3), doing what format 4's rules now refuse, so that
# every later casevault must keep replaying it as it was accepted ("Old
# vaults keep opening"):
#   - a document moved out of a closed case (CP-2020-0003);
#   - a project director's hold released by the admin (CP-2020-0002);
#   - a disposal (CP-2020-0001) relying on the approval of a director who
#     left the staff after approving.
# Made with the test key-derivation hook and the passphrases
# "<id> fixture passphrase", which FixtureVaultTests uses. A committed
# fixture is never rewritten.
#   git worktree add /tmp/c1b6781 c1b6781 && (cd /tmp/c1b6781 && swift build --product casevault)
#   scripts/make-fixture-vault-events-3.sh /tmp/c1b6781/.build/debug/casevault
set -euo pipefail
cd "$(dirname "$0")/.."
casevault="$1"
out=Tests/CaseVaultTests/Fixtures/vault-events-format-3
if [ -e "$out" ]; then echo "$out exists: a committed fixture is never rewritten" >&2; exit 1; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CASEVAULT_INSECURE_TEST_KDF=1 CASEVAULT_DIR="$work/vault" CASEVAULT_STATE_DIR="$work/state"
examples="$PWD/Schemas/examples"
for who in amina grace halima farah dora; do printf '%s fixture passphrase\n' "$who" > "$work/$who"; done
run() { "$casevault" "$@" >/dev/null 2>&1 || { echo "failed: casevault $*" >&2; exit 1; }; }
as() { echo "--as $1 --passphrase-file $work/$1"; }
run init "$work/vault" --admin-id amina --admin-name "Amina Yusuf" --new-passphrase-file "$work/amina" --recovery-key-out "$work/recovery.txt"
for x in "grace Grace case-manager" "halima Halima case-supervisor" "farah Farah records-officer" "dora Dora project-director"; do
    set -- $x
    run staff add $(as amina) --id "$1" --name "$2" --role "$3" --new-passphrase-file "$work/$1"
done
printf 'a note\n' > "$work/note.txt"
for n in 1 2 3; do
    run case open $(as halima) --category CP --admitted 2020 --client $n --manager grace --supervisor halima
    run file CP-2020-000$n $(as farah) --name Note --type note "$work/note.txt"
    run file CP-2020-000$n $(as grace) --form closure "$examples/closure.json"
done
run case status CP-2020-0003 C $(as halima) --reason "closed"
run move CP-2020-0003 Note --to CP-2020-0002 --new-name "Note from 3" $(as halima) --reason "misfiled"
run hold add CP-2020-0002 $(as dora) --reason "court order"
run hold release CP-2020-0002 $(as amina) --reason "lifted by the admin"
python3 - "$examples/retention-policy.json" "$(sed -n 's/.*"vaultId" *: *"\([^"]*\)".*/\1/p' "$work/vault/casevault.json")" > "$work/policy.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); p["vaultId"] = sys.argv[2]; p["legalHolds"] = []
p["byCategory"].append({"category": "CP", "rule": {"keep": {"years": 0}, "disposal": "crypto-shredding",
    "approvers": {"roles": ["case-supervisor", "project-director"], "minimumApprovals": 2}}})
print(json.dumps(p))
PY
run retention policy set "$work/policy.json" $(as amina)
run case status CP-2020-0001 C $(as halima) --reason "closed"
run retention approve CP-2020-0001 $(as halima) --reason "due"
run retention approve CP-2020-0001 $(as dora) --reason "due"
run staff leave dora $(as amina) --reason "end of contract"
run retention apply --approved-by halima,dora $(as amina)
run verify
cp -R "$work/vault" "$out"
echo "wrote $out"
