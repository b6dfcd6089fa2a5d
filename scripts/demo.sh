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
for who in amina grace joseph halima farah peter dora zawadi musa neema; do
    printf '%s demo passphrase 2024\n' "$who" > "$secrets/$who"
done

if [ -e "$vault" ]; then
    say "Removing the previous demo vault"
    rm -rf "$vault"
fi
# The checkpoints casevault keeps outside the vault (normally in
# ~/.local/state/casevault) go beside the demo vault, so the demo leaves the
# user's own folder alone; keep CASEVAULT_STATE_DIR set to explore it later.
export CASEVAULT_STATE_DIR="$PWD/demo-checkpoints"
rm -rf "$CASEVAULT_STATE_DIR"

next "Create the vault with its first admin and an offline recovery key"
echo "The admin's passphrase is read from a file here; without --new-passphrase-file it is asked twice, unechoed."
run init --vault "$vault" --id amina --name "Amina Yusuf" \
    --new-passphrase-file "$secrets/amina" --recovery-key-out "$secrets/recovery-key.txt"
[ -d "$vault" ] || { echo "demo: init failed" >&2; exit 1; }
echo
echo "The recovery key (printed here once; a real one goes to paper or removable media, away from the vault):"
sed 's/^/    /' "$secrets/recovery-key.txt"

export CASEVAULT_DIR="$vault"

next "The admin adds the programme's staff"
for member in "grace|Grace Otieno|case-manager" "joseph|Joseph Mwangi|case-manager" \
              "halima|Halima Abdi|case-supervisor" "farah|Farah Nasser|records-officer" \
              "peter|Peter Okello|auditor" "dora|Dora Achieng|project-director"; do
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
mv "$secrets/grace-new" "$secrets/grace"   # from now on Grace uses the new one

next "A case supervisor opens two client folders"
backup="$secrets/backup-before-filing"
echo "Each case gets a team-tier and a confidential-tier key; each tier's secret is sealed to its holders."
run case open --as halima --passphrase-file "$secrets/halima" --category CP --admitted 2024 --client 42 \
    --manager grace --supervisor halima
run case open --as halima --passphrase-file "$secrets/halima" --category UASC --admitted 2025 \
    --manager joseph --supervisor halima

cp -r "$vault" "$backup"   # an ordinary backup, taken before anything was filed

next "The records officer files an intake form, a report and a photo (public keys only)"
echo "The intake form is JSON, validated against the intake schema before anything is filed."
examples="$(cd "$(dirname "$0")/../Schemas/examples" && pwd)"
sed 's/"Amani"/"Amani (demo)"/' "$examples/intake.json" > "$secrets/intake.json"
printf 'Home visit, 12 March 2024: the caregiver was present; the placement is safe.\n' > "$secrets/home-visit.txt"
# A tiny valid PNG (1x1 pixel): recognised as an image, so it goes to the confidential tier.
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82' > "$secrets/photo.png"
run file CP-2024-0042 --as farah --passphrase-file "$secrets/farah" --form intake "$secrets/intake.json"
run file CP-2024-0042 --as farah --passphrase-file "$secrets/farah" --name "Home visit report" --type report "$secrets/home-visit.txt"
run file CP-2024-0042 --as farah --passphrase-file "$secrets/farah" --name "Identifying photo" --type document "$secrets/photo.png"
printf 'Arrival interview notes (demo).\n' | "$casevault" file UASC-2025-0043 --as farah --passphrase-file "$secrets/farah" \
    --name "Arrival interview" --type report --confidential -
echo "(filed 'Arrival interview' into UASC-2025-0043 from standard input, marked confidential)"

next "The records officer indexes the clients' names, and finds a case by a misspelt one"
echo "Only keyed tokens of each name are kept (SECURITY.md §12e); the first naming makes the vault's search key."
run case name CP-2024-0042 "Amani Mohamed Abdullahi" --as farah --passphrase-file "$secrets/farah"
run case name UASC-2025-0043 "Yusuf Hassan Warsame" --as farah --passphrase-file "$secrets/farah"
run find --name "Amany Muhammad" --as farah --passphrase-file "$secrets/farah"
run find --name "Youssef Hasan" --as joseph --passphrase-file "$secrets/joseph"
echo "No client name, in any spelling, anywhere in the vault folder:"
if grep -r -i -a -l -e abdullahi -e warsame "$vault"; then echo "demo: a client name is in the vault folder" >&2; exit 1; fi
echo "    (grep -ri abdullahi|warsame: nothing)"

next "An invalid care plan is refused, every problem listed, nothing filed (exit 65)"
sed -e 's/"dueDate": "2024-04-15"/"dueDate": "2024-13-15"/' -e 's/"reviewDate"/"reviewWhen"/' "$examples/care-plan.json" > "$secrets/bad-care-plan.json"
run file CP-2024-0042 --as grace --passphrase-file "$secrets/grace" --form care-plan "$secrets/bad-care-plan.json"

next "The care plan is filed, then revised: version 2 keeps version 1"
run file CP-2024-0042 --as grace --passphrase-file "$secrets/grace" --form care-plan "$examples/care-plan.json"
sed -e 's/"status": "in-progress"/"status": "achieved"/' "$examples/care-plan.json" > "$secrets/care-plan-v2.json"
run file CP-2024-0042 --as grace --passphrase-file "$secrets/grace" --form care-plan "$secrets/care-plan-v2.json"

next "The folder as anyone may see it: labels and stamps, no content"
run case show CP-2024-0042
run history CP-2024-0042 "Care plan"

next "The Case Manager reads the form and the photo"
run get CP-2024-0042 "Intake form" --as grace --passphrase-file "$secrets/grace"
run get CP-2024-0042 "Identifying photo" --as grace --passphrase-file "$secrets/grace" -o "$secrets/photo-back.png"
cmp -s "$secrets/photo.png" "$secrets/photo-back.png" && echo "(the photo read back is identical to the one filed)"

next "The care plan, printed with its stamped header, and what changed between its versions"
run get CP-2024-0042 "Care plan" v1 --render --as grace --passphrase-file "$secrets/grace"
run diff CP-2024-0042 "Care plan" --as halima --passphrase-file "$secrets/halima"

next "The records officer filed them but cannot read them (exit 77)"
run get CP-2024-0042 "Intake form" --as farah --passphrase-file "$secrets/farah"

next "The project director reads team documents, not the confidential photo (exit 77)"
run get CP-2024-0042 "Home visit report" --as dora --passphrase-file "$secrets/dora"
run get CP-2024-0042 "Identifying photo" --as dora --passphrase-file "$secrets/dora"

next "Another case's manager holds no grant for this case (exit 77)"
run get CP-2024-0042 "Intake form" --as joseph --passphrase-file "$secrets/joseph"

next "A report filed in error is withdrawn by the case manager: kept in the history, no longer current"
printf 'Home visit, 19 March 2024 (notes about another child, filed here by mistake).\n' > "$secrets/wrong-visit.txt"
run file CP-2024-0042 --as farah --passphrase-file "$secrets/farah" --name "Home visit report" --type report "$secrets/wrong-visit.txt"
run withdraw CP-2024-0042 "Home visit report" v2 --as grace --passphrase-file "$secrets/grace" \
    --reason "Notes about another child; filed here by mistake"
run history CP-2024-0042 "Home visit report"
run get CP-2024-0042 "Home visit report" --as grace --passphrase-file "$secrets/grace"

next "A letter filed into the wrong case is moved where it belongs: new keys, a tombstone left behind"
printf 'Letter from the school about the unaccompanied child (demo).\n' > "$secrets/school-letter.txt"
run file CP-2024-0042 --as farah --passphrase-file "$secrets/farah" --name "School letter" --type letter "$secrets/school-letter.txt"
run move CP-2024-0042 "School letter" --to UASC-2025-0043 --as grace --passphrase-file "$secrets/grace" \
    --reason "About the UASC client, not this child"
echo "Joseph (UASC-2025-0043) reads it; Grace (CP-2024-0042 only) no longer can (exit 77):"
run get UASC-2025-0043 "School letter" --as joseph --passphrase-file "$secrets/joseph"
run get UASC-2025-0043 "School letter" --as grace --passphrase-file "$secrets/grace"
run get CP-2024-0042 "School letter" --as grace --passphrase-file "$secrets/grace"

next "A case moves through its statuses (manual §5.2); every move is a signed event with its reason"
run case status UASC-2025-0043 IA --as joseph --passphrase-file "$secrets/joseph" --reason "No contact since the family moved"
echo "A move the manual does not allow is refused, naming the rule (exit 65):"
run case status UASC-2025-0043 AO --as joseph --passphrase-file "$secrets/joseph" --reason "Turned 18"
run case status UASC-2025-0043 O --as halima --passphrase-file "$secrets/halima" --reason "Family traced by the partner agency"
echo "Closing needs a filed closure form; the case manager cannot close alone (exit 77):"
run file UASC-2025-0043 --as joseph --passphrase-file "$secrets/joseph" --form closure "$examples/closure.json"
run case status UASC-2025-0043 C --as joseph --passphrase-file "$secrets/joseph" --reason "Durable solution: family reunification"
run case status UASC-2025-0043 C --as joseph --passphrase-file "$secrets/joseph" --reason "Durable solution: family reunification" \
    --approved-by halima
run case approve UASC-2025-0043 --as halima --passphrase-file "$secrets/halima"
run case reopen UASC-2025-0043 --as halima --passphrase-file "$secrets/halima" --reason "New protection concern reported"
run case show UASC-2025-0043
echo "What needs attention, from the catalog alone (no passphrase): today, and as it will look in 100 days:"
run due
run due --as-of "$(date -u -d '+100 days' +%F)"

next "Grace is leaving: what blocks a clean handover of her cases (manual §5.2.4), from metadata alone"
run handover check --from grace

next "Folder labels: the four fields of manual §5.5, no names; a sheet for A4 label stock"
run case tag CP-2024-0042 add case-of-concern --as halima --passphrase-file "$secrets/halima"
run case list --tag case-of-concern
run label CP-2024-0042
rm -f demo-labels.svg
run label --all --out demo-labels.svg
if command -v chromium >/dev/null; then
    rm -f demo-labels.png
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=794,1123 \
        --screenshot="$PWD/demo-labels.png" "file://$PWD/demo-labels.svg" >/dev/null 2>&1 \
        && echo "Chromium's screenshot of the sheet: demo-labels.png"
fi
echo "(open demo-labels.svg in a browser and print at 100 %)"

next "A legal hold: whatever the retention schedule says, nothing of a held case is disposed of"
run hold add UASC-2025-0043 --as dora --passphrase-file "$secrets/dora" --reason "Family court proceedings pending"
run hold list
echo "A retention policy (the example, for this vault), and what it says of the closed cases as of ten years from now:"
sed "s/3f6c1d2a-8b4e-4c7a-9d10-5e2f7a8b9c01/$(sed -n 's/.*"vaultId" *: *"\([^"]*\)".*/\1/p' "$vault/casevault.json")/" \
    "$examples/retention-policy.json" > "$secrets/retention-policy.json"
run retention policy set "$secrets/retention-policy.json" --as amina --passphrase-file "$secrets/amina"
run case status UASC-2025-0043 C --as halima --passphrase-file "$secrets/halima" --reason "Family reunified abroad"
run retention plan --as-of "$(date -u -d '+10 years' +%F)"

next "Disposal by crypto-shredding: two approvals, then every key is erased, then the objects; a signed certificate remains"
echo "For the demo, policy version 2 keeps closed UASC cases 0 years, so the case just closed is due today:"
python3 - "$secrets/retention-policy.json" > "$secrets/retention-policy-2.json" <<'PY'
import json, sys
policy = json.load(open(sys.argv[1]))
policy["byCategory"].append({"category": "UASC", "rule": {"keep": {"years": 0}, "disposal": "crypto-shredding",
    "approvers": {"roles": ["case-supervisor", "project-director"], "minimumApprovals": 2}}})
print(json.dumps(policy, indent=2))
PY
run retention policy set "$secrets/retention-policy-2.json" --as amina --passphrase-file "$secrets/amina"
run retention plan
echo "While the hold stands, nobody can even approve it (exit 65):"
run retention approve UASC-2025-0043 --as halima --passphrase-file "$secrets/halima" --reason "Retention period over"
run hold release UASC-2025-0043 --as dora --passphrase-file "$secrets/dora" --reason "Proceedings closed"
run retention approve --due --as halima --passphrase-file "$secrets/halima" --reason "Retention period over"
run retention approve --due --as dora --passphrase-file "$secrets/dora" --reason "Checked against the register"
echo "An admin carries it out, relying on the two approvals (an approver cannot do it herself):"
run retention apply --approved-by halima,dora --as amina --passphrase-file "$secrets/amina"
run retention certificate UASC-2025-0043
echo "The case's record remains; its content is gone for everyone, its holders included (exit 66):"
run get UASC-2025-0043 "School letter" --as joseph --passphrase-file "$secrets/joseph"

next "Access changes: a colleague covers and stops covering; a project director leaves (keys rotate)"
run case grant CP-2024-0042 --tier team --member joseph --reason "Covering while Grace is on leave" \
    --as halima --passphrase-file "$secrets/halima"
run get CP-2024-0042 "Home visit report" --as joseph --passphrase-file "$secrets/joseph"
echo "Revoking rotates the team key: a new key pair for the others, every file key re-sealed to it, Joseph's copy erased."
run case revoke CP-2024-0042 --member joseph --reason "Grace is back" --as halima --passphrase-file "$secrets/halima"
echo "Joseph is refused now (exit 77), and what is filed next is sealed to a key he never had:"
run get CP-2024-0042 "Home visit report" --as joseph --passphrase-file "$secrets/joseph"
echo "Dora leaves. The admin records it: she can no longer unlock, and every team tier she held rotates without her."
echo "(An admin holds no case key, so the older versions stay under the older keys, which the other holders keep.)"
run staff leave dora --reason "End of contract" --as amina --passphrase-file "$secrets/amina"
run get CP-2024-0042 "Home visit report" --as dora --passphrase-file "$secrets/dora"
run case show CP-2024-0042
echo "Halima, who holds the tiers, re-seals every older version to the new keys; the older keys are erased:"
run case rotate --pending --reason "After Dora left" --as halima --passphrase-file "$secrets/halima"
run get CP-2024-0042 "Home visit report" --as grace --passphrase-file "$secrets/grace"

next "Grace hands CP-2024-0042 over to Joseph (manual §5.2.4): draft, start with shadowing, complete"
run handover draft --from grace --to joseph --cases CP-2024-0042 --out "$secrets/handover"
echo "Grace completes the draft: the child's name, a summary, the briefings, two signatures (casevault filled in the rest):"
python3 - "$secrets/handover/CP-2024-0042.json" <<'PY'
import json, sys
path = sys.argv[1]
form = json.load(open(path))
form["childName"] = "Amani (demo)"
form["caseSummary"] = "Placed with her aunt since March; school enrolment pending; weekly home visits."
form["checklist"].update({"supervisorBriefed": True, "teamBriefed": True, "clientBriefed": True})
form["signatures"] = [{"name": "Grace Otieno", "role": "Case Manager", "date": form["dateOfHandover"]},
                      {"name": "Halima Abdi", "role": "Case Supervisor", "date": form["dateOfHandover"]}]
json.dump(form, open(path, "w"), indent=2)
print(json.dumps({k: form[k] for k in ("dateOfHandover", "outgoingCaseManager", "incomingCaseManager", "shadowingPeriod")}, indent=2))
PY
run handover start --from grace --to joseph --cases CP-2024-0042 --forms "$secrets/handover" --as halima --passphrase-file "$secrets/halima"
echo "While Joseph shadows Grace, both read the case; completing before the shadowing ends needs --early and a reason (exit 65):"
run get CP-2024-0042 "Home visit report" --as joseph --passphrase-file "$secrets/joseph"
echo "Grace makes the handover package for Joseph: sealed to him, each document a signed read, nothing written in clear:"
run export handover --cases CP-2024-0042 --to joseph --out "$secrets/handover-CP-2024-0042.cvp" --as grace --passphrase-file "$secrets/grace"
echo "Only Joseph opens it (Halima is refused, exit 77):"
run package open "$secrets/handover-CP-2024-0042.cvp" --out "$secrets/by-halima" --as halima --passphrase-file "$secrets/halima"
run package open "$secrets/handover-CP-2024-0042.cvp" --out "$secrets/from-grace" --as joseph --passphrase-file "$secrets/joseph"
(cd "$secrets/from-grace" && find . -type f | sort | sed 's/^/    /')
sed -n '1,12p' "$secrets/from-grace/MANIFEST.json" | sed 's/^/    /'
run handover complete --cases CP-2024-0042 --as halima --passphrase-file "$secrets/halima"
run handover complete --cases CP-2024-0042 --early --reason "Grace's contract ends this week" --as halima --passphrase-file "$secrets/halima"
echo "Grace is refused now; Joseph is the Case Manager and reads every version, old and new:"
run get CP-2024-0042 "Home visit report" --as grace --passphrase-file "$secrets/grace"
run get CP-2024-0042 "Home visit report" --as joseph --passphrase-file "$secrets/joseph"
run case show CP-2024-0042

next "A family moves to another district: its case goes to the district office's vault, history and all"
district="$secrets/district-vault"
echo "The district office has its own vault (its own staff and keys):"
"$casevault" init "$district" --id zawadi --name "Zawadi Mrema" --new-passphrase-file "$secrets/zawadi" >/dev/null
for member in "musa|Musa Juma|case-supervisor" "neema|Neema Said|case-manager"; do
    IFS='|' read -r id name role <<< "$member"
    "$casevault" staff add --vault "$district" --as zawadi --passphrase-file "$secrets/zawadi" \
        --id "$id" --name "$name" --role "$role" --new-passphrase-file "$secrets/$id" >/dev/null
done
run staff list --vault "$district"
run case open --as halima --passphrase-file "$secrets/halima" --category CP --admitted 2025 --client 7 \
    --manager joseph --supervisor halima
printf 'Referral from the district hospital (demo).\n' > "$secrets/referral.txt"
run file CP-2025-0007 --as farah --passphrase-file "$secrets/farah" --name "Referral" --type report "$secrets/referral.txt"
printf 'Medical notes (demo).\n' > "$secrets/medical.txt"
run file CP-2025-0007 --as farah --passphrase-file "$secrets/farah" --name "Medical notes" --type medical "$secrets/medical.txt"
echo "Musa, who will import it there, gives his identity; the two offices read the fingerprint to each other by phone:"
run vault pubkey --vault "$district" --member musa --out "$secrets/musa.pub"
echo "Halima, the case's supervisor, transfers it: sealed to Musa; only the two tier keys are unsealed, to be re-sealed for him:"
run export case CP-2025-0007 --to-vault "$secrets/musa.pub" --out "$secrets/CP-2025-0007.cvt" \
    --reason "The family moved to the district" --as halima --passphrase-file "$secrets/halima" | tee "$secrets/export.txt"
sender="$(sed -n 's/.*fingerprint is \([0-9a-f-]*\):.*/\1/p' "$secrets/export.txt")"
echo "Here the case is now read-only (exit 65), still readable by its holders:"
run file CP-2025-0007 --as farah --passphrase-file "$secrets/farah" --name "Late note" --type report "$secrets/referral.txt"
run case show CP-2025-0007
echo "Neema, a district case manager, cannot import it: only a case supervisor imports, and it is sealed to Musa (exit 77):"
run import case "$secrets/CP-2025-0007.cvt" --vault "$district" --manager neema --as neema --passphrase-file "$secrets/neema"
echo "Musa imports it, checking the sending vault's fingerprint Halima read to him: every event and record proved against the sending vault's signed log, new tier keys made in the district vault:"
run import case "$secrets/CP-2025-0007.cvt" --vault "$district" --manager neema --from-vault "$sender" \
    --as musa --passphrase-file "$secrets/musa"
run get CP-2025-0007 "Medical notes" --vault "$district" --as neema --passphrase-file "$secrets/neema"
run case show CP-2025-0007 --vault "$district"
run verify --vault "$district"

next "The monthly supervision report, from the catalog alone (no passphrase, no decryption)"
run report monthly --month "$(date -u +%Y-%m)"

next "What is on disk"
(cd "$vault" && find . -printf '%M  %10s  %p\n' | sort -k3)
echo
echo "Config (clear, no secrets):"
sed 's/^/    /' "$vault/casevault.json"

next "No passphrase and no content appears anywhere in the vault"
found=0
for who in amina grace joseph halima farah peter dora; do
    if grep -rqF -- "$(head -n1 "$secrets/$who")" "$vault"; then echo "FOUND the passphrase of $who in the vault"; found=1; fi
done
for marker in "Amani (demo)" "the placement is safe" "Arrival interview notes"; do
    if grep -rqF -- "$marker" "$vault"; then echo "FOUND '$marker' in the vault"; found=1; fi
done
[ $found -eq 0 ] && echo "Searched every file under $vault for each passphrase and for words of each document: none found."

next "Every change and every read is a signed event; the catalog is their projection"
command -v sqlite3 >/dev/null && sqlite3 "$vault/catalog.sqlite" \
    "SELECT printf('%3d  %-24s %-8s %s', seq, type, actor, at) FROM events ORDER BY seq" | tail -n 14
echo
echo "Each event signs the root of the vault's state map; every row a command uses is checked against it."

next "An auditor takes a signed checkpoint of the log home (no content, no key)"
run checkpoint --as peter --passphrase-file "$secrets/peter" --out "$secrets/auditor.checkpoint"
sed 's/^/    /' "$secrets/auditor.checkpoint"
echo "casevault also keeps the newest checkpoint each member's commands saw, outside the vault:"
ls "$CASEVAULT_STATE_DIR" | sed 's/^/    /'

next "The auditor reads the log and a case's access history: no passphrase, no key unsealed"
echo "Every event re-hashed into the log's tree and held to the auditor's checkpoint; each one listed checked against its signer's key:"
run audit log --case CP-2024-0042 --type content. --checkpoint "$secrets/auditor.checkpoint"
echo "Who held each tier of CP-2024-0042, generation by generation, and every read, refusal and package of it:"
run audit access CP-2024-0042 --checkpoint "$secrets/auditor.checkpoint"
echo "The confidentiality-controls report (the demo vault's covering grant, handover and departure show up in it):"
run audit controls --checkpoint "$secrets/auditor.checkpoint"
echo "An inclusion proof that the disposal certificate's event is in the log the auditor's checkpoint commits to, checked at a desk without the vault:"
disposal_seq="$("$casevault" audit log --type case.disposed --json | head -n 1 | sed -n 's/.*"seq":\([0-9]*\).*/\1/p')"
run audit prove "$disposal_seq" --checkpoint "$secrets/auditor.checkpoint" --out "$secrets/disposal.proof"
(cd "$secrets" && CASEVAULT_DIR= run audit check-proof disposal.proof --checkpoint auditor.checkpoint)
echo "The auditor takes a BagIt audit export home (events with proofs, catalog metadata, controls; no content, no key):"
run export audit --out "$secrets/audit.tar" --checkpoint "$secrets/auditor.checkpoint" --as peter --passphrase-file "$secrets/peter"
mkdir -p "$secrets/audit-desk" && bsdtar -xf "$secrets/audit.tar" -C "$secrets/audit-desk"
(cd "$secrets/audit-desk" && find . -type f | sort | sed 's/^/    /')
echo "At the auditor's desk, bagit-python checks the bag (manifests, Payload-Oxum, tag manifest):"
python3 -m bagit --validate "$secrets/audit-desk"/casevault-audit-* 2>&1 | tail -n 1 | sed 's/^/    /'
echo "And casevault checks what bagit-python cannot: every signature, the Merkle proofs, the checkpoint, the controls:"
(cd "$secrets" && CASEVAULT_DIR= run audit verify-export audit.tar --checkpoint auditor.checkpoint)
echo "The same BagIt check judges bags other tools made (here two of the Library of Congress conformance suite's):"
suite="$(cd "$(dirname "$0")/../Tests/CaseVaultTests/Fixtures/bagit-conformance-suite" && pwd)"
CASEVAULT_DIR= run audit verify-export --bagit-only "$suite/v1.0/valid/basicBag"
CASEVAULT_DIR= run audit verify-export --bagit-only "$suite/v0.97/invalid/corrupt-data-file"
echo "As JSON Lines, each event carries its signed body, signature and RFC 9162 leaf hash, to check elsewhere:"
"$casevault" audit log --type case.key-rotated --json | head -n 1 | cut -c1-300
echo "…"

next "verify checks everything against the signed log, without a passphrase"
run verify --read-data

next "Someone with write access edits a case's manager in a copy of the vault: refused"
tampered="$secrets/tampered-vault"
cp -r "$vault" "$tampered"
sqlite3 "$tampered/catalog.sqlite" "UPDATE cases SET manager_id = 'joseph' WHERE number = 'CP-2024-0042'"
echo "(sqlite3: UPDATE cases SET manager_id = 'joseph' …)"
run case show CP-2024-0042 --vault "$tampered"
run verify --vault "$tampered"

next "An older copy of the vault put back (a rollback) is refused: the log does not extend the checkpoints"
run case list --vault "$backup"
CASEVAULT_STATE_DIR="$secrets/another-machine" run case list --vault "$backup" --checkpoint "$secrets/auditor.checkpoint"

next "The real vault is clean"
run verify

say "Done. ./demo-vault is left for you to explore, e.g.: CASEVAULT_STATE_DIR=./demo-checkpoints casevault staff list --vault demo-vault"
