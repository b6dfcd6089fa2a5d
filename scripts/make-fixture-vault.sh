#!/usr/bin/env bash
# Writes Tests/CaseVaultTests/Fixtures/vault-format-1: a small vault in the
# current on-disk format, committed so that every later casevault must keep
# opening and reading it (style rule 8). Made with the test key-derivation
# hook and the passphrases below, which the fixture test uses.
#   scripts/make-fixture-vault.sh [PATH-TO-CASEVAULT]
set -euo pipefail
cd "$(dirname "$0")/.."
casevault="${1:-$(swift build --show-bin-path)/casevault}"
out=Tests/CaseVaultTests/Fixtures/vault-format-1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CASEVAULT_INSECURE_TEST_KDF=1 CASEVAULT_DIR="$work/vault"
for who in amina grace halima farah; do printf '%s fixture passphrase\n' "$who" > "$work/$who"; done
"$casevault" init "$work/vault" --admin-id amina --admin-name "Amina Yusuf" --new-passphrase-file "$work/amina" 2>/dev/null
add() { "$casevault" staff add --as amina --passphrase-file "$work/amina" --id "$1" --name "$2" --role "$3" --new-passphrase-file "$work/$1" 2>/dev/null; }
add grace "Grace Otieno" case-manager
add halima "Halima Abdi" case-supervisor
add farah "Farah Nasser" records-officer
"$casevault" case open --as halima --passphrase-file "$work/halima" --category CP --admitted 2024 --client 42 --manager grace --supervisor halima 2>/dev/null
printf '{"form":"intake","child":"Fixture Child","v":1}\n' > "$work/intake1.json"
printf '{"form":"intake","child":"Fixture Child","v":2}\n' > "$work/intake2.json"
head -c 200000 /dev/zero | tr '\0' 'z' > "$work/scan.txt"
"$casevault" file CP-2024-0042 --as farah --passphrase-file "$work/farah" --name "Intake form" --type form "$work/intake1.json" 2>/dev/null
"$casevault" file CP-2024-0042 --as farah --passphrase-file "$work/farah" --name "Intake form" --type form "$work/intake2.json" 2>/dev/null
"$casevault" file CP-2024-0042 --as grace --passphrase-file "$work/grace" --name "Scan" --type document --confidential "$work/scan.txt" 2>/dev/null
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$work/vault" "$out"
chmod -R u+w "$out"
echo "wrote $out"
