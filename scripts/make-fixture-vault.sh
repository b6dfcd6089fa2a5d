#!/usr/bin/env bash
# Writes Tests/CaseVaultTests/Fixtures/vault-format-N, N being the format the
# given casevault writes: a small vault committed so that every later
# casevault must keep opening, reading and verifying it (style rule 8). Made
# with the test key-derivation hook and the passphrases below, which
# FixtureVaultTests uses. A committed fixture is never rewritten: its format
# is what old vaults in the field hold.
#   scripts/make-fixture-vault.sh [PATH-TO-CASEVAULT]
#
# vault-format-1 was written by casevault 0.1 (commit e12aba8) with the
# steps not marked "format 2" below. vault-format-2 adds them: a recovery
# key and a project director (more grants), a name outside ASCII, a form
# schema of the programme's own, a passphrase change, a read, a refusal.
set -euo pipefail
cd "$(dirname "$0")/.."
casevault="${1:-$(swift build --show-bin-path)/casevault}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CASEVAULT_INSECURE_TEST_KDF=1 CASEVAULT_DIR="$work/vault" CASEVAULT_STATE_DIR="$work/state"
for who in amina grace halima farah dora; do printf '%s fixture passphrase\n' "$who" > "$work/$who"; done
printf 'farah format-2 passphrase\n' > "$work/farah2"
"$casevault" init "$work/vault" --admin-id amina --admin-name "Amina Yusuf" --new-passphrase-file "$work/amina" \
    --recovery-key-out "$work/recovery.txt" >/dev/null 2>&1
format=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["formatVersion"])' "$work/vault/casevault.json")
out=Tests/CaseVaultTests/Fixtures/vault-format-$format
if [ -e "$out" ]; then echo "$out exists: a committed fixture is never rewritten" >&2; exit 1; fi
add() { "$casevault" staff add --as amina --passphrase-file "$work/amina" --id "$1" --name "$2" --role "$3" --new-passphrase-file "$work/$1" >/dev/null 2>&1; }
add grace "Grace Otieno" case-manager
add halima "Halima Abdi" case-supervisor
add farah "Farah Nasser" records-officer
add dora "Dora Achieng" project-director                                                  # format 2
"$casevault" case open --as halima --passphrase-file "$work/halima" --category CP --admitted 2024 --client 42 --manager grace --supervisor halima >/dev/null 2>&1
printf '{"form":"intake","child":"Fixture Child","v":1}\n' > "$work/intake1.json"
printf '{"form":"intake","child":"Fixture Child","v":2}\n' > "$work/intake2.json"
head -c 200000 /dev/zero | tr '\0' 'z' > "$work/scan.txt"
file() { "$casevault" file CP-2024-0042 --as "$1" --passphrase-file "$work/$2" "${@:3}" >/dev/null 2>&1; }
file farah farah --name "Intake form" --type form "$work/intake1.json"
file farah farah --name "Intake form" --type form "$work/intake2.json"
file grace grace --name "Scan" --type document --confidential "$work/scan.txt"
# format 2 from here
printf 'notes from the visit, caf\xc3\xa9 on the corner\n' > "$work/visit.txt"
file grace grace --name "$(printf 'Caf\xc3\xa9 visit')" --type report "$work/visit.txt"
"$casevault" staff passwd --as farah --passphrase-file "$work/farah" --new-passphrase-file "$work/farah2" >/dev/null 2>&1
python3 - "$work/schema.json" <<'EOF'
import json, sys
schema = json.load(open("Schemas/forms/home-visit.schema.json"))
schema["$id"] = "https://programme.example/forms/home-visit.schema.json"
schema["title"] = "Home visit (programme)"
json.dump(schema, open(sys.argv[1], "w"))
EOF
"$casevault" schema add --as dora --passphrase-file "$work/dora" "$work/schema.json" >/dev/null 2>&1
"$casevault" file CP-2024-0042 --as farah --passphrase-file "$work/farah2" --form home-visit Schemas/examples/home-visit.json >/dev/null 2>&1
"$casevault" get CP-2024-0042 "Intake form" --as grace --passphrase-file "$work/grace" -o "$work/read.json" >/dev/null 2>&1
"$casevault" get CP-2024-0042 "Scan" --as dora --passphrase-file "$work/dora" -o "$work/refused.txt" >/dev/null 2>&1 && exit 1
rm -f "$work/read.json"
mkdir -p "$(dirname "$out")"
cp -r "$work/vault" "$out"
cp "$work/recovery.txt" "$out.recovery-key.txt"
chmod -R u+w "$out" "$out.recovery-key.txt"
echo "wrote $out (and its recovery key, $out.recovery-key.txt: a test vault's)"
