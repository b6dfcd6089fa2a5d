#!/usr/bin/env python3
"""An independent casevault decoder, written from SECURITY.md alone.

    decrypt-with-pynacl.py VAULT STAFF_ID PASSPHRASE_FILE CASE DOCUMENT [VERSION] > plaintext

Uses PyNaCl (pip install pynacl) and the standard library; shares no code with casevault.
It exists to prove that SECURITY.md is precise enough to decrypt a document: `make test` runs
it against vaults the Swift code wrote. It writes no event (it is not casevault) and opens the
catalog read-only. Exit codes: 0 done, 1 refused or failed (message on stderr).
"""
import json
import os
import sqlite3
import struct
import sys

from nacl import bindings as b
from nacl import pwhash

CHUNK = 65536 + 17  # SECURITY.md §9


def fail(message):
    sys.stderr.write("decrypt-with-pynacl: " + message + "\n")
    sys.exit(1)


def canonical(value):
    """SECURITY.md §13: RFC 8785 for objects, arrays, strings, integers, booleans, null."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def read_passphrase(path):
    """§4: the first line, without "\\n" or "\\r\\n"."""
    with open(path, "rb") as f:
        data = f.read()
    line, newline, _ = data.partition(b"\n")
    if newline and line.endswith(b"\r"):
        line = line[:-1]
    return line


def unwrap(blob, passphrase):
    """§4, format CVW1."""
    if blob[0:4] != b"CVW1" or blob[4] != 2:
        fail("not a CVW1 Argon2id blob")
    opslimit, memlimit = struct.unpack("<QQ", blob[5:21])
    if not (1 <= opslimit <= 16 and 8192 <= memlimit <= 4 << 30):
        fail("Argon2id parameters out of bounds")
    salt, nonce, sealed = blob[21:37], blob[37:61], blob[61:]
    kek = pwhash.argon2id.kdf(32, passphrase, salt, opslimit=opslimit, memlimit=memlimit)
    try:
        return b.crypto_secretbox_open(sealed, nonce, kek)
    except Exception:
        fail("wrong passphrase")


def main():
    if len(sys.argv) not in (6, 7):
        fail(__doc__.strip().splitlines()[2].strip())
    vault, staff_id, passphrase_file, case, document = sys.argv[1:6]
    wanted_version = int(sys.argv[6]) if len(sys.argv) == 7 else None

    with open(os.path.join(vault, "casevault.json"), "rb") as f:
        config = json.load(f)
    db = sqlite3.connect("file:" + os.path.join(vault, "catalog.sqlite") + "?mode=ro", uri=True)

    # §3, §4: the member's keys, checked against the catalog.
    row = db.execute("SELECT wrapped_secret_keys, box_public_key FROM staff WHERE id = ?", (staff_id,)).fetchone()
    if row is None:
        fail("no staff member " + staff_id)
    secrets = unwrap(bytes(row[0]), read_passphrase(passphrase_file))
    box_secret = secrets[:32]
    box_public = b.crypto_scalarmult_base(box_secret)
    if box_public != bytes(row[1]):
        fail("staff keys do not match the catalog")

    # §8, §11: the version, its grant, its keys.
    case_row = db.execute("SELECT team_public_key, confidential_public_key FROM cases WHERE number = ?", (case,)).fetchone()
    if case_row is None:
        fail("no case " + case)
    query = """SELECT v.version, v.type, v.tier, v.object_id, v.sealed_file_key, v.stamp
               FROM versions v JOIN documents d ON d.id = v.document_id
               WHERE d.case_number = ? AND d.name = ?"""
    params = [case, document]
    if wanted_version is not None:
        query += " AND v.version = ?"
        params.append(wanted_version)
    version_row = db.execute(query + " ORDER BY v.version DESC LIMIT 1", params).fetchone()
    if version_row is None:
        fail("no such document or version")
    version, doc_type, tier, object_id, sealed_file_key, stamp_bytes = version_row
    grant = db.execute("SELECT sealed_secret_key FROM grants WHERE case_number = ? AND tier = ? AND holder = ?",
                       (case, tier, "staff:" + staff_id)).fetchone()
    if grant is None:
        fail("no grant for the %s tier" % tier)
    try:
        tier_secret = b.crypto_box_seal_open(bytes(grant[0]), box_public, box_secret)
    except Exception:
        fail("grant does not open")
    tier_public = b.crypto_scalarmult_base(tier_secret)
    if tier_public != bytes(case_row[0] if tier == "team" else case_row[1]):
        fail("tier key does not match the case")
    try:
        file_key = b.crypto_box_seal_open(bytes(sealed_file_key), tier_public, tier_secret)
    except Exception:
        fail("sealed file key does not open")

    stamp = json.loads(bytes(stamp_bytes).decode("utf-8"))
    ad = b"casevault-object-v1\n" + canonical({
        "vault": config["vaultId"], "case": case, "document": document, "version": version,
        "type": doc_type, "tier": tier, "stamp": stamp})

    # §9: header, then 64 KiB chunks; the last one, and only it, FINAL.
    path = os.path.join(vault, "objects", object_id[:2], object_id)
    out = sys.stdout.buffer
    with open(path, "rb") as f:
        header = f.read(24)
        if len(header) != 24:
            fail("object truncated")
        state = b.crypto_secretstream_xchacha20poly1305_state()
        b.crypto_secretstream_xchacha20poly1305_init_pull(state, header, file_key)
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                fail("object ends without a final chunk")
            try:
                plain, tag = b.crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad)
            except Exception:
                fail("object failed authentication")
            if tag == b.crypto_secretstream_xchacha20poly1305_TAG_FINAL:
                if f.read(1):
                    fail("bytes after the final chunk")
                out.write(plain)
                break
            if tag != b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE or len(chunk) != CHUNK:
                fail("unexpected chunk")
            out.write(plain)
    out.flush()


if __name__ == "__main__":
    main()
