#!/usr/bin/env bash
# A walk through casevault on ./demo-vault, printing each step.
# Run through `make demo`, which builds the binary and passes its path.
set -uo pipefail

casevault="${1:?usage: scripts/demo.sh PATH-TO-CASEVAULT}"
vault="$PWD/demo-vault"
step=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
    printf '$ casevault %s\n' "$*"
    "$casevault" "$@"
    local code=$?
    [ $code -eq 0 ] || printf '(exit code %d)\n' "$code"
    return 0
}
must() { "$casevault" "$@" || { echo "demo: step failed: casevault $*" >&2; exit 1; }; }
next() { step=$((step + 1)); say "Step $step: $*"; }

# Demo passphrases live in a private temp folder, never in the vault, and
# are removed when the demo ends. Real staff type theirs at a prompt.
secrets="$(mktemp -d)"
chmod 700 "$secrets"
trap 'rm -rf "$secrets"' EXIT
umask 077
for who in amina grace joseph halima farah peter; do
    printf '%s demo passphrase 2024\n' "$who" > "$secrets/$who"
done

if [ -e "$vault" ]; then
    say "Removing the previous demo vault"
    rm -rf "$vault"
fi

next "Create the vault with its first admin and an offline recovery key"
echo "The admin's passphrase is read from a file here; without --new-passphrase-file it is asked twice, unechoed."
run init "$vault" --admin-id amina --admin-name "Amina Yusuf" \
    --new-passphrase-file "$secrets/amina" --recovery-key-out "$secrets/recovery-key.txt"
[ -d "$vault" ] || { echo "demo: init failed" >&2; exit 1; }
echo
echo "The recovery key (printed here once; a real one goes to paper or removable media, away from the vault):"
sed 's/^/    /' "$secrets/recovery-key.txt"

export CASEVAULT_DIR="$vault"

next "The admin adds the programme's staff"
for member in "grace|Grace Otieno|case-manager" "joseph|Joseph Mwangi|case-manager" \
              "halima|Halima Abdi|case-supervisor" "farah|Farah Nasser|records-officer" \
              "peter|Peter Okello|auditor"; do
    IFS='|' read -r id name role <<< "$member"
    run staff add --as amina --passphrase-file "$secrets/amina" \
        --id "$id" --name "$name" --role "$role" --new-passphrase-file "$secrets/$id"
done

next "Anyone can list staff and roles; no passphrase is needed for public facts"
run staff list

next "Only an admin adds staff: the records officer is refused (exit 77)"
run staff add --as farah --passphrase-file "$secrets/farah" \
    --id intruder --name "Not Allowed" --role admin --new-passphrase-file "$secrets/farah"

next "A wrong passphrase is refused (exit 80) and nothing is written"
run staff passwd --as grace --passphrase-file "$secrets/joseph" --new-passphrase-file "$secrets/joseph"

next "Grace changes her own passphrase"
printf 'grace new passphrase 2025\n' > "$secrets/grace-new"
run staff passwd --as grace --passphrase-file "$secrets/grace" --new-passphrase-file "$secrets/grace-new"

next "What is on disk"
(cd "$vault" && find . -printf '%M  %10s  %p\n' | sort -k3)
echo
echo "Config (clear, no secrets):"
sed 's/^/    /' "$vault/casevault.json"

next "No passphrase appears anywhere in the vault"
found=0
for file in "$secrets"/*; do
    [ "$(basename "$file")" = recovery-key.txt ] && continue
    if grep -rqF -- "$(head -n1 "$file")" "$vault"; then
        echo "FOUND the passphrase of $(basename "$file") in the vault"; found=1
    fi
done
[ $found -eq 0 ] && echo "Searched every file under $vault for each staff passphrase: none found."

say "Done. ./demo-vault is left for you to explore, e.g.: casevault staff list --vault demo-vault"
echo "(Filing, retrieval, handover packages and audit exports are the next issues on the tracker.)"
