#!/usr/bin/env python3
"""Independent decoder and verifier for casevault vaults (formats 1 to 3), written from SECURITY.md alone.

    decrypt-with-pynacl.py VAULT STAFF_ID PASSPHRASE_FILE CASE DOCUMENT [VERSION] [--checkpoint FILE] > plaintext

It checks the whole signed event log (every body, signature, signer's role and the Merkle tree),
the member's wrapped-key anchor and, if given, a checkpoint; checks every catalog row it uses
against the signed state root; then decrypts one version of one document to standard output.
Exit 0 on success; exit 1 with one line "decrypt-with-pynacl: <message>" on standard error.
It writes nothing itself: it opens the catalog read-only (SQLite mode=ro) and reads it inside one
transaction (§8); plaintext reaches stdout only after the object's final chunk authenticated (§9).
Only the standard library and PyNaCl are used.
"""
import base64, hashlib, json, os, pathlib, re, sqlite3, struct, sys, unicodedata, uuid
import nacl.bindings as nb
from nacl.exceptions import CryptoError

class Fail(Exception): pass
def fail(msg): raise Fail(msg)
def sha256(b): return hashlib.sha256(b).digest()
def blake2b256(b): return hashlib.blake2b(b, digest_size=32).hexdigest()  # §2, §8: blob names

# ---------------------------------------------------------------- §13 canonical JSON
def canon(v):
    """RFC 8785 restricted to objects, arrays, strings, integers, true, false, null."""
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if type(v) is int: return str(v)
    if type(v) is str: return json.dumps(v, ensure_ascii=False)
    if type(v) is list: return "[" + ",".join(canon(x) for x in v) + "]"
    if type(v) is dict:  # members sorted by the UTF-16 code units of their names
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canon(x) for k, x in items) + "}"
    raise ValueError("not a canonical JSON value")

def canon_bytes(v): return canon(v).encode("utf-8")  # raises on lone surrogates

def parse_canonical(b):
    """Parse bytes that must be exactly the canonical encoding of their value; None otherwise."""
    def no_dups(pairs):
        if len({k for k, _ in pairs}) != len(pairs): raise ValueError("duplicate member")
        return dict(pairs)
    def no_float(_): raise ValueError("fraction, exponent or constant")
    try:
        b = b.encode("utf-8") if isinstance(b, str) else b
        v = json.loads(b.decode("utf-8"), object_pairs_hook=no_dups, parse_float=no_float, parse_constant=no_float)
        return v if canon_bytes(v) == b else None
    except (ValueError, UnicodeError, RecursionError):
        return None

# ---------------------------------------------------------------- §12 event bodies (and Schemas/event.schema.json)
def pat(rx):
    c = re.compile(rx)
    return lambda x: type(x) is str and c.fullmatch(x) is not None
def enum(*vals): return lambda x: type(x) is str and x in vals
def integer(lo=None): return lambda x: type(x) is int and (lo is None or x >= lo)
def string(lo=0, hi=None): return lambda x: type(x) is str and len(x) >= lo and (hi is None or len(x) <= hi)
def either(*cs): return lambda x: any(c(x) for c in cs)
def str_list(x): return type(x) is list and all(type(s) is str for s in x)
def is_bool(x): return type(x) is bool
def is_null(x): return x is None
def obj(req, opt={}):
    return lambda x: (type(x) is dict and set(req) <= set(x) <= set(req) | set(opt)
                      and all({**req, **opt}[k](v) for k, v in x.items()))

HEX = pat(r"[0-9a-f]{64}")
ID = pat(r"[a-z0-9][a-z0-9._-]{1,63}")
CASE = pat(r"[A-Z]{1,8}-[0-9]{4}-[0-9]{4,}")
FTYPE = pat(r"[a-z0-9-]{1,32}")
UTC = pat(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
DATE = pat(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})")
TIER = enum("team", "confidential")
STATUS = enum("O", "IA", "AO", "C")
ROLES = ("records-officer", "case-manager", "case-supervisor", "project-director", "auditor", "admin")
STAMP = obj({"date": DATE, "caseNumber": CASE, "caseStatus": STATUS, "report": string(1),  # §11
             "caseManager": string(), "caseSupervisor": string(), "version": integer(1),
             "filedBy": ID, "filedByName": string()})
DATA = {
    "vault.created": obj({"formatVersion": integer(), "createdAt": DATE,
                          "kdf": obj({"algorithm": enum("argon2id13"), "opsLimit": integer(), "memLimit": integer()}),
                          "insecureTestingKDF": is_bool, "recoveryPublicKey": either(HEX, is_null),
                          "caseCategories": str_list, "teamTierRoles": str_list},
                         {"tallies": lambda x: x is True}),  # §12a "Report tallies": since catalog v21
    "report.tallies-started": obj({"cases": integer(0)}),
    "staff.added": obj({"id": ID, "name": string(), "role": enum(*ROLES), "boxPublicKey": HEX,
                        "signingPublicKey": HEX, "wrappedKeysHash": HEX}),
    "staff.passphrase-changed": obj({"id": ID, "wrappedKeysHash": HEX}),
    "case.opened": obj({"case": CASE, "category": string(), "year": integer(), "clientNumber": integer(1),
                        "status": STATUS, "manager": ID, "supervisor": ID, "teamPublicKey": HEX,
                        "confidentialPublicKey": HEX}),
    "grant.given": obj({"case": CASE, "tier": TIER, "holder": pat(r"staff:[a-z0-9][a-z0-9._-]{1,63}|recovery"),
                        "holderPublicKey": HEX, "sealedKeyHash": HEX}),
    "version.filed": obj({"case": CASE, "document": string(1, 480), "version": integer(1), "type": FTYPE,
                          "tier": TIER, "object": HEX, "size": integer(0), "ciphertextSize": integer(41),
                          "sealedFileKeyHash": HEX, "stamp": STAMP},
                         {"schema": obj({"id": string(1), "version": either(integer(1), is_null), "bodyHash": HEX}),
                          "fileInfoHash": HEX}),  # §11a
    "content.read": obj({"case": CASE, "document": string(), "version": integer(1), "tier": TIER, "object": HEX}),
    "content.refused": obj({"case": CASE, "document": string(), "version": integer(1), "tier": TIER,
                            "reason": enum("role", "no-grant")}),
    "schema.added": obj({"type": FTYPE, "version": integer(1), "id": string(1), "title": string(1), "bodyHash": HEX}),
    "case.status-changed": obj({"case": CASE, "from": STATUS, "to": STATUS, "reason": string(1)}),  # §12 lifecycle
    "case.closure-requested": obj({"case": CASE, "approver": ID, "reason": string(1)}),
    "case.closure-approved": obj({"case": CASE, "request": integer(1)}),
    "version.withdrawn": obj({"case": CASE, "document": string(1, 480), "version": integer(1), "reason": string(1)}),
    "document.moved": obj({"case": CASE, "document": string(1, 480), "to": CASE, "toDocument": string(1, 480),
                           "reason": string(1), "versions": lambda x: type(x) is list and all(
                               obj({"version": integer(1), "sealedFileKeyHash": HEX})(i) for i in x)}),
    "case.tag-added": obj({"case": CASE, "tag": pat(r"[a-z0-9][a-z0-9-]{0,31}")}),
    "case.tag-removed": obj({"case": CASE, "tag": pat(r"[a-z0-9][a-z0-9-]{0,31}")}),
    "case.ao-extended": obj({"case": CASE, "until": pat(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), "reason": string(1)}),
    "case.ao-closed": obj({"case": CASE, "closedOn": pat(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")}),
    "policy.confidential-types-set": obj({"types": lambda x: str_list(x) and all(FTYPE(t) for t in x)}),
    "case.hold-placed": obj({"case": CASE, "reason": string(1)}),
    "case.hold-released": obj({"case": CASE, "reason": string(1)}),
    "retention.policy-set": obj({"version": integer(1), "bodyHash": HEX}),
    "case.disposal-approved": obj({"case": CASE, "policyVersion": integer(1), "reason": string(1)}),
    "case.disposed": obj({"case": CASE, "policyVersion": integer(1), "rule": string(1, 64),
                          "approvals": lambda x: type(x) is list and len(x) >= 1 and all(integer(1)(i) for i in x),
                          "documents": integer(0), "versions": integer(0), "ciphertextBytes": integer(0)}),
    "staff.left": obj({"id": ID, "reason": string(1)}),  # §3 "Rotation"
    "case.access-granted": obj({"case": CASE, "tier": TIER, "holder": pat(r"staff:[a-z0-9][a-z0-9._-]{1,63}"),
                                "holderPublicKey": HEX, "sealedKeyHash": HEX, "reason": string(1)}),
    "case.key-rotated": obj({"case": CASE, "tier": TIER, "generation": integer(2), "publicKey": HEX,
                             "holders": lambda x: type(x) is list and all(obj({
                                 "holder": pat(r"staff:[a-z0-9][a-z0-9._-]{1,63}|recovery"),
                                 "holderPublicKey": HEX, "sealedKeyHash": HEX})(i) for i in x),
                             "removed": lambda x: str_list(x) and all(pat(r"staff:[a-z0-9][a-z0-9._-]{1,63}")(i) for i in x),
                             "versions": lambda x: type(x) is list and all(obj({
                                 "document": string(1, 480), "version": integer(1), "sealedFileKeyHash": HEX})(i) for i in x),
                             "reason": string(1)}),
    "case.handover-started": obj({"case": CASE, "role": enum("manager", "supervisor"), "from": ID, "to": ID,
                                  "shadowUntil": pat(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")}),
    "case.handover-completed": obj({"case": CASE, "early": is_bool, "reason": either(string(1), is_null)}),
    "case.handover-cancelled": obj({"case": CASE, "reason": string(1)}),
    # The package's hash: "blake2b" up to format 4, "blake3" from format 5 (checked with the format below).
    "package.exported": lambda d: any(obj({"recipient": ID, "format": enum("sealed", "zip-aes256"), hash_name: HEX,
                                           "entries": lambda x: type(x) is list and all(obj({
                                               "case": CASE, "document": string(1, 480), "version": integer(1)})(i) for i in x)})(d)
                                      for hash_name in ("blake2b", "blake3")),
    "case.transferred": obj({"case": CASE, "toVault": pat(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
                             "toMember": ID, "toBoxPublicKey": HEX, "reason": string(1)}),  # §15b
    "case.imported": obj({"case": CASE, "history": HEX, "manager": ID, "supervisor": ID, "teamPublicKey": HEX,
                          "confidentialPublicKey": HEX,
                          "holders": lambda x: type(x) is list and all(obj({
                              "tier": TIER, "holder": pat(r"staff:[a-z0-9][a-z0-9._-]{1,63}|recovery"),
                              "holderPublicKey": HEX, "sealedKeyHash": HEX})(i) for i in x),
                          "versions": lambda x: type(x) is list and all(obj({
                              "document": string(1, 480), "version": integer(1), "sealedFileKeyHash": HEX},
                              {"fileInfoHash": HEX})(i) for i in x),  # §15b: a file name sealed again on import
                          "schemaBodies": lambda x: str_list(x) and all(HEX(i) for i in x)}),
    "case.transfer-cancelled": obj({"case": CASE, "reason": string(1)}),
    "audit.exported": obj({"blake2b": HEX, "format": enum("tar", "zip"), "cases": lambda x: str_list(x) and all(CASE(c) for c in x),
                           "since": either(pat(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), is_null), "events": integer(0), "logSize": integer(1)}),
    "search.key-granted": obj({"holder": ID, "holderPublicKey": HEX, "keyCheck": pat(r"[0-9a-f]{32}"), "sealedKeyHash": HEX}),  # §12e
    # Before catalog v18 the tokens themselves; since, the hash of the blob that holds them (§12e).
    "case.client-named": either(obj({"case": CASE, "index": pat(r"[0-9a-f]{768}")}), obj({"case": CASE, "indexHash": HEX})),
}
ANY = set(ROLES)
SUPER = {"case-supervisor", "project-director", "admin"}
SIGNERS = {  # §12 "Who may sign what", the role column
    "vault.created": {"admin"}, "staff.added": {"admin"}, "staff.passphrase-changed": ANY,
    "report.tallies-started": {"admin", "project-director"},
    "case.opened": SUPER, "grant.given": SUPER,
    "version.filed": {"records-officer", "case-manager", "case-supervisor", "project-director"},
    "content.read": {"case-manager", "case-supervisor", "project-director"},
    "content.refused": ANY, "schema.added": {"admin", "project-director"},
    "case.status-changed": {"case-manager", "case-supervisor"}, "case.closure-requested": {"case-manager"},
    "case.closure-approved": {"case-supervisor"}, "version.withdrawn": {"case-manager", "case-supervisor"},
    "document.moved": {"case-manager", "case-supervisor"},
    "case.tag-added": {"case-manager", "case-supervisor", "project-director"},
    "case.tag-removed": {"case-manager", "case-supervisor", "project-director"},
    "case.ao-extended": {"case-supervisor"}, "case.ao-closed": set(ROLES) - {"auditor"},
    "policy.confidential-types-set": {"admin"},
    "case.hold-placed": {"project-director", "admin", "case-supervisor"},
    "case.hold-released": {"project-director", "admin", "case-supervisor"},
    "retention.policy-set": {"admin", "project-director"},
    "case.disposal-approved": SUPER,
    "case.disposed": {"admin", "project-director"},
    "staff.left": {"admin"},
    "case.access-granted": {"case-supervisor", "project-director", "case-manager"},
    "case.key-rotated": SUPER | {"case-manager"},
    "case.handover-started": {"case-supervisor", "project-director"},
    "case.handover-completed": {"case-supervisor", "project-director"},
    "case.handover-cancelled": {"case-supervisor", "project-director"},
    "package.exported": {"case-manager", "case-supervisor", "project-director"},
    "case.transferred": {"case-supervisor"},
    "case.imported": {"case-supervisor"},
    "case.transfer-cancelled": {"case-supervisor"},
    "audit.exported": {"auditor", "admin", "project-director"},
    "search.key-granted": set(ROLES) - {"auditor"},
    "case.client-named": set(ROLES) - {"auditor"},
}
READERS = {"case-manager", "case-supervisor", "project-director"}  # §3 table: roles that can read
EVENT_PREFIX = b"casevault-event-v1\n"

# ---------------------------------------------------------------- §12 RFC 9162 Merkle tree
def leaf_hash(body, sig): return sha256(b"\x00" + body + sig)

def mth(leaves):
    n = len(leaves)
    if n == 0: return sha256(b"")
    if n == 1: return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)  # largest power of two below n
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))

def ed25519_ok(pk, sig, msg):  # crypto_sign_open on sig || msg is crypto_sign_verify_detached
    try: return len(sig) == 64 and nb.crypto_sign_open(sig + msg, pk) == msg
    except Exception: return False

# ---------------------------------------------------------------- §12, §12b step 2, for every event from 1
def verify_log(db, vault_id):
    rows = db.execute("SELECT seq, type, actor, at, body, signature, leaf_hash FROM events ORDER BY seq").fetchall()
    if not rows: fail("the event log is empty (the vault has no admin yet)")
    events = []
    for i, (seq, typ, actor, at, body, sig, stored_leaf) in enumerate(rows, 1):
        if seq != i: fail(f"event {i}: missing (the log has a gap; next stored seq is {seq})")
        if isinstance(body, str): body = body.encode("utf-8")
        ev = parse_canonical(body)
        if type(ev) is not dict: fail(f"event {i}: the body is not canonical JSON")
        members = {"actor", "at", "data", "seq", "type", "v", "vault"}
        if type(ev.get("v")) is not int: fail(f"event {i}: unknown body format v={ev.get('v')!r}")
        if ev["v"] in (2, 3, 4, 5): members.add("state")
        elif ev["v"] != 1: fail(f"event {i}: unknown body format v={ev['v']!r}")
        if set(ev) != members: fail(f"event {i}: the body does not have exactly the members of format v{ev['v']}")
        if not (ev["seq"] == i and type(ev["seq"]) is int): fail(f"event {i}: the body says seq {ev['seq']!r}")
        if ev["vault"] != vault_id: fail(f"event {i}: the body is of another vault")
        if not (ID(ev["actor"]) and UTC(ev["at"]) and ev["type"] in DATA and DATA[ev["type"]](ev["data"])):
            fail(f"event {i}: the body is malformed (actor, at, type or data)")
        if "state" in ev and not HEX(ev["state"]): fail(f"event {i}: the body's state is not a hex SHA-256")
        if ev["type"] == "package.exported" and ("blake3" in ev["data"]) != (ev["v"] >= 5):
            fail(f"event {i}: a format-{ev['v']} package.exported names its package by {'blake3' if ev['v'] >= 5 else 'blake2b'} alone")
        if events and ev["v"] < events[-1][0]["v"]: fail(f"event {i}: a format-{ev['v']} body after format {events[-1][0]['v']}")
        if (typ, actor, at) != (ev["type"], ev["actor"], ev["at"]):  # §12b
            fail(f"event {i}: the stored type, actor or time differs from the body")
        if not isinstance(sig, bytes) or len(sig) != 64: fail(f"event {i}: the signature is not 64 bytes")
        leaf = leaf_hash(body, sig)
        if stored_leaf != leaf: fail(f"event {i}: the stored leaf hash differs from the body and signature")
        events.append((ev, body, sig, leaf))
    if len(events) < 2: fail("event 2: missing (event 1 is signed by the admin event 2 adds)")
    # A vault of format 1 or 2 signs format 4 at most (format 5 is for vaults of format 3, §12).
    first_event = events[0][0]
    for ev, *_ in events:
        if ev["v"] >= 5 and not (first_event["type"] == "vault.created" and first_event["data"]["formatVersion"] >= 3):
            fail(f"event {ev['seq']}: format {ev['v']} in a vault of format {first_event['data'].get('formatVersion')}")

    # Signatures and signers' roles.  staff: id -> (signing public key, role, seq of its staff.added)
    staff, first = {}, events[1][0]
    if events[0][0]["type"] != "vault.created": fail("event 1: is not vault.created")
    if not (first["type"] == "staff.added" and first["data"]["id"] == first["actor"] == events[0][0]["actor"]
            and first["data"]["role"] == "admin"):
        fail("event 2: is not the first admin adding themselves, as the signer of event 1")
    staff[first["actor"]] = (bytes.fromhex(first["data"]["signingPublicKey"]), "admin", 2)
    departed = {}  # id -> seq of its staff.left: they sign nothing after
    for i, (ev, body, sig, _) in enumerate(events, 1):
        t, actor, d = ev["type"], ev["actor"], ev["data"]
        if actor not in staff: fail(f"event {i}: its actor '{actor}' was not added before it")
        pk, role, _ = staff[actor]
        if actor in departed: fail(f"event {i}: '{actor}' left the staff at event {departed[actor]}")  # §12
        if not ed25519_ok(pk, sig, EVENT_PREFIX + body): fail(f"event {i}: the signature does not verify")
        if role not in SIGNERS[t]: fail(f"event {i}: a {role} may not sign {t}")
        if t == "vault.created" and i != 1: fail(f"event {i}: vault.created is only event 1")
        if t == "staff.added" and i > 2:
            if d["id"] in staff: fail(f"event {i}: staff id '{d['id']}' is not new")
            staff[d["id"]] = (bytes.fromhex(d["signingPublicKey"]), d["role"], i)
        if t == "staff.left":
            if d["id"] not in staff or d["id"] in departed or d["id"] == actor: fail(f"event {i}: not a departure of another member")
            departed[d["id"]] = i
        if t == "staff.passphrase-changed" and d["id"] != actor:
            fail(f"event {i}: a member may change only their own keys")
        if t in ("content.read", "content.refused", "package.exported", "audit.exported") and "state" in ev \
                and ev["state"] != events[i - 2][0].get("state"):
            fail(f"event {i}: a {t} changes no state, but the event signs a new state root")  # §12a, §12b
    # id -> (signing key, role, seq of staff.added, seq of staff.left or None)
    return [e[0] for e in events], [e[3] for e in events], {k: v + (departed.get(k),) for k, v in staff.items()}

def check_log_nodes(db, leaves):
    """§12: the stored perfect subtrees (log_nodes) must be exactly the ones recomputed from the leaves."""
    levels, expected = [leaves], {}
    while len(levels[-1]) >= 2:
        prev = levels[-1]
        levels.append([sha256(b"\x01" + prev[2 * j] + prev[2 * j + 1]) for j in range(len(prev) // 2)])
        expected.update({(len(levels) - 1, j): h for j, h in enumerate(levels[-1])})
    stored = {(lv, ix): h for lv, ix, h in db.execute("SELECT level, idx, hash FROM log_nodes")}
    if stored != expected: fail("the stored log tree (log_nodes) differs from the events")

# ---------------------------------------------------------------- §12b checkpoints
def check_checkpoint(path, vault_id, leaves, staff):
    try: text = open(path, "rb").read().decode("utf-8")
    except (OSError, UnicodeError) as e: fail(f"cannot read the checkpoint: {e}")
    note, sep, sigs = text.partition("\n\n")
    lines = note.split("\n")
    if not sep or len(lines) != 3 or lines[0] != f"casevault/{vault_id}" \
            or not re.fullmatch(r"0|[1-9][0-9]*", lines[1]) or not sigs.endswith("\n"):
        fail("the checkpoint is malformed or of another vault")
    size = int(lines[1])
    try: root = base64.b64decode(lines[2], validate=True)
    except ValueError: root = b""
    if len(root) != 32 or base64.b64encode(root).decode() != lines[2]: fail("the checkpoint's root is malformed")
    note_bytes, signed = (note + "\n").encode("utf-8"), False
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m: fail("the checkpoint has a malformed signature line")
        name, prefix = m.group(1), f"casevault/{vault_id}/"
        if not name.startswith(prefix) or name[len(prefix):] not in staff: continue
        pk, _, added_seq, left_seq = staff[name[len(prefix):]]
        if added_seq > size: continue  # the signer's staff.added must lie in the tree it commits to
        if left_seq is not None and left_seq <= size: continue  # and not their staff.left (§12b)
        try: blob = base64.b64decode(m.group(2), validate=True)
        except ValueError: continue
        key_id = sha256(name.encode() + b"\n\x01" + pk)[:4]
        if len(blob) == 68 and blob[:4] == key_id and ed25519_ok(pk, blob[4:], note_bytes):
            signed = True
    if not signed: fail("the checkpoint carries no valid signature by a member of this vault")
    if size > len(leaves) or mth(leaves[:size]) != root: fail("the log does not extend the checkpoint")

# ---------------------------------------------------------------- §12a state map
E = bytes(32)
STATE_NODES_CLUSTERED = False  # catalog v20 and later (set from grdb_migrations)

def state_lookup(db, root, key):
    """Walk state_nodes towards SHA-256(key), recompute the root, return the V the map holds (or None)."""
    K = sha256(key.encode("utf-8"))
    bit = lambda d: (K[d // 8] >> (7 - d % 8)) & 1
    def path(d):  # the stored key: since v20, at depth 12 and below, 0x01 || bits || depth
        p = bytearray(K[:(d + 7) // 8])
        if d % 8: p[-1] &= (0xFF << (8 - d % 8)) & 0xFF
        if STATE_NODES_CLUSTERED and d >= 12: return b"\x01" + bytes(p) + struct.pack(">H", d)
        return struct.pack(">H", d) + bytes(p)
    def node(d):
        r = db.execute("SELECT kind, first, second FROM state_nodes WHERE path = ?", (path(d),)).fetchone()
        if r is not None and not (r[0] in (0, 1) and isinstance(r[1], bytes) and isinstance(r[2], bytes)
                                  and len(r[1]) == len(r[2]) == 32):
            fail(f"the catalog's state map is damaged (at {key})")
        return r
    siblings, found, d, r = [], None, 0, node(0)
    while r is not None:
        kind, first, second = r
        if kind == 0:  # a leaf: K' must share its first d bits with K
            if any(((first[j // 8] >> (7 - j % 8)) & 1) != bit(j) for j in range(d)):
                fail(f"the catalog's state map is damaged (at {key})")
            found = (first, second)
            break
        if d >= 256: fail(f"the catalog's state map is damaged (at {key})")
        b = bit(d)
        mine, sib = (first, second) if b == 0 else (second, first)
        siblings.append((b, sib))
        d += 1
        if mine == E: break
        r = node(d)
        if r is None: fail(f"the catalog's state map is damaged (at {key})")
    h = E if found is None else sha256(b"\x00" + found[0] + found[1])
    for b, sib in reversed(siblings):
        h = sha256(b"\x01" + (h + sib if b == 0 else sib + h))
    if h != root: fail(f"the catalog's state map does not give the signed state root (at {key})")
    return found[1] if found is not None and found[0] == K else None

def check_record(db, root, what, key, build):
    """The map must hold SHA-256(record) for key, or nothing when there is no row (build() is None)."""
    try:
        record = build()
        v = None if record is None else sha256(canon_bytes(record))
    except Exception:  # a row whose columns cannot even form a record was edited
        v = b"unbuildable"
    if state_lookup(db, root, key) != v: fail(f"the catalog's {what} differs from the signed state")
    return record

def hx(b):  # a BLOB column as lower-case hex
    if not isinstance(b, bytes): raise ValueError("not a BLOB")
    return b.hex()
def flag(x):  # an INTEGER 0/1 column as a JSON boolean
    if type(x) is not int or x not in (0, 1): raise ValueError("not a boolean")
    return x == 1
def one(rows):  # a key's row; two rows for one key are a hand-added row
    if len(rows) > 1: raise ValueError("duplicate rows")
    return rows[0] if rows else None

def q(db, sql, *args):
    cur = db.execute(sql, args)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]

def vault_record(s):
    return None if s is None else {
        "vaultId": s["vault_id"], "formatVersion": s["format_version"], "createdAt": s["created_at"],
        "kdf": {"algorithm": s["kdf_algorithm"], "opsLimit": s["kdf_ops_limit"], "memLimit": s["kdf_mem_limit"]},
        "insecureTestingKDF": flag(s["insecure_testing_kdf"]),
        "recoveryPublicKey": None if s["recovery_public_key"] is None else hx(s["recovery_public_key"]),
        "caseCategories": json.loads(s["case_categories"]), "teamTierRoles": json.loads(s["team_tier_roles"]),
        "eventSeq": s["event_seq"]}

def staff_record(s):
    return None if s is None else {
        "id": s["id"], "name": s["name"], "role": s["role"], "boxPublicKey": hx(s["box_public_key"]),
        "signingPublicKey": hx(s["signing_public_key"]), "wrappedKeysHash": s["wrapped_keys_hash"],
        "addedAt": s["added_at"], "addedBy": s["added_by"], "addedSeq": s["added_seq"], "keysSeq": s["keys_seq"],
        **left_member(s)}

def left_member(s):  # §12a: "left" only once the member left the staff; all four columns or none
    cols = [s.get(k) for k in ("left_seq", "left_at", "left_by", "left_reason")]
    if all(c is None for c in cols): return {}
    if any(c is None for c in cols): raise ValueError("part of a departure")
    return {"left": {"seq": cols[0], "at": cols[1], "by": cols[2], "reason": cols[3]}}

def generation_member(name, g):  # §12a: a key generation is in the record only when it is not 1
    if g is None or g == 1: return {}
    if type(g) is not int or g < 1: raise ValueError("bad key generation")
    return {name: g}

def keys_member(c):  # §12a: "keys" only once a tier of the case has rotated
    text = c.get("key_generations")
    if text is None: return {}
    keys = json.loads(text)
    tiers = {}
    for t in ("confidential", "team"):
        k = keys[t]
        tiers[t] = {"generation": k["generation"],
                    "older": [{"generation": o["generation"], "publicKey": o["publicKey"]} for o in k["older"]]}
        if "madeBy" in k: tiers[t]["madeBy"] = k["madeBy"]  # from format 3: who made the current key
    return {"keys": tiers}

def json_member(c, column):  # §12a: "transferred", "imported" only when set (§15b)
    text = c.get(column)
    return {} if text is None else {column: json.loads(text)}

def case_record(c, grants):
    if c is None: return None
    gs = sorted(grants, key=lambda g: (g["tier"].encode(), g["holder"].encode(), g.get("generation") or 1))
    return {"case": {"number": c["number"], "category": c["category"], "year": c["year"],
                     "clientNumber": c["client_number"], "status": c["status"], "manager": c["manager_id"],
                     "supervisor": c["supervisor_id"], "teamPublicKey": hx(c["team_public_key"]),
                     "confidentialPublicKey": hx(c["confidential_public_key"]), "openedAt": c["opened_at"],
                     "openedBy": c["opened_by"], "openedSeq": c["opened_seq"], **keys_member(c),
                     **json_member(c, "transferred"), **json_member(c, "imported")},
            "grants": [{"caseNumber": g["case_number"], "tier": g["tier"], "holder": g["holder"],
                        "holderPublicKey": hx(g["holder_public_key"]), "sealedKeyHash": g["sealed_key_hash"],
                        "grantedSeq": g["granted_seq"], **generation_member("generation", g.get("generation"))} for g in gs]}

def document_record(d):
    return None if d is None else {
        "caseNumber": d["case_number"], "name": d["name"], "type": d["type"], "isForm": flag(d["is_form"]),
        "latestVersion": d["latest_version"], "confidential": flag(d["confidential"])}

def withdrawal_state(rows):  # §12a withdrawals/<case>/<document>; nothing while there are none
    if not rows: return None
    rows = sorted(rows, key=lambda w: w["version"])
    if len({w["version"] for w in rows}) != len(rows): raise ValueError("duplicate rows")
    return {"versions": [{"caseNumber": w["case_number"], "document": w["document"], "version": w["version"],
                          "seq": w["seq"], "at": w["at"], "by": w["by"], "reason": w["reason"]} for w in rows]}

def disposal_record(d):  # §12a disposed/<case>
    return None if d is None else {
        "approvals": json.loads(d["approvals"]), "at": d["at"], "by": d["by"], "caseNumber": d["case_number"],
        "ciphertextBytes": d["ciphertext_bytes"], "documents": d["documents"], "policyVersion": d["policy_version"],
        "rule": d["rule"], "seq": d["seq"], "versions": d["versions"]}

def version_record(v):
    if v is None: return None
    stamp = parse_canonical(v["stamp"])  # §11: exactly the canonical encoding of exactly the stamp members
    if not STAMP(stamp): raise ValueError("malformed stamp")
    return {"caseNumber": v["case_number"], "document": v["document"], "version": v["version"], "type": v["type"],
            "tier": v["tier"], "objectId": v["object_id"], "size": v["plaintext_size"],
            "ciphertextSize": v["ciphertext_size"], "sealedFileKeyHash": v["sealed_file_key_hash"], "stamp": stamp,
            "filedSeq": v["filed_seq"], "schemaId": v["schema_id"], "schemaVersion": v["schema_version"],
            "schemaBodyHash": v["schema_body_hash"], **origin_member(v),
            **generation_member("keyGeneration", v.get("key_generation")),
            **({} if v.get("file_info_hash") is None else {"fileInfoHash": v["file_info_hash"]})}  # §11a

def origin_member(v):  # §12a: "origin" only for a moved or imported version; both columns or neither
    oc, od, ov = v.get("origin_case"), v.get("origin_document"), v.get("origin_vault")
    if oc is None and od is None and ov is None: return {}
    if oc is None or od is None: raise ValueError("half an origin")
    return {"origin": {"case": oc, "document": od, **({} if ov is None else {"vault": ov})}}

# ---------------------------------------------------------------- §8 blobs, §4 wrapped keys
def get_blob(db, name, what):
    for (b,) in db.execute("SELECT bytes FROM blobs WHERE hash = ?", (name,)):
        if isinstance(b, bytes) and blake2b256(b) == name: return b
    fail(f"the {what} blob {name} is missing or does not hash to its name")

def open_sealed(db, name, what, pk, sk):  # §8: crypto_box_seal'ed 32-byte keys, 80-byte blobs
    try: key = nb.crypto_box_seal_open(get_blob(db, name, what), pk, sk)
    except CryptoError: fail(f"the {what} failed authentication")
    if len(key) != 32: fail(f"the {what} is not 32 bytes")
    return key

def unwrap(blob, passphrase, vault_id, leaves):
    sizes = {b"CVW1": 96, b"CVW2": 184}
    if len(blob) < 61 or blob[:4] not in sizes or blob[4] != 0x02: fail("the wrapped keys are of an unknown format")
    if len(blob) != 61 + 16 + sizes[blob[:4]]: fail("the wrapped keys have the wrong length")
    ops, mem = struct.unpack("<QQ", blob[5:21])
    if not (1 <= ops <= 16 and 8192 <= mem <= 4 << 30): fail("the wrapped keys' Argon2id parameters are out of bounds")
    kek = nb.crypto_pwhash_alg(32, passphrase, blob[21:37], ops, mem, nb.crypto_pwhash_ALG_ARGON2ID13)
    try: pt = nb.crypto_secretbox_open(blob[61:], blob[37:61], kek)
    except CryptoError: fail("wrong passphrase")
    if len(pt) == 184:  # §4 CVW2 anchor
        vid, leaf1, (k,), root = pt[96:112], pt[112:144], struct.unpack("<Q", pt[144:152]), pt[152:184]
        if vid != uuid.UUID(vault_id).bytes: fail("your wrapped keys' anchor is of another vault")
        if leaf1 != leaves[0]: fail("event 1 is not the one your wrapped keys' anchor names (the log was rewritten)")
        if not 1 <= k <= len(leaves): fail(f"the log is shorter than your wrapped keys' anchor ({k} events): truncated or rolled back")
        if mth(leaves[:k]) != root: fail(f"the log's first {k} events are not your wrapped keys' anchor: the log was rewritten")
    return pt[:32], pt[32:96]

# ---------------------------------------------------------------- §9 secretstream
def decrypt_stream(data, key, ad):
    CH = 65536 + 17
    if len(data) < 24 + 17: fail("object failed authentication")
    st = nb.crypto_secretstream_xchacha20poly1305_state()
    nb.crypto_secretstream_xchacha20poly1305_init_pull(st, data[:24], key)
    out, pos = [], 24
    while True:
        chunk = data[pos:pos + CH]
        pos += len(chunk)
        if not chunk: fail("object failed authentication")  # end of input before TAG_FINAL
        try: m, tag = nb.crypto_secretstream_xchacha20poly1305_pull(st, chunk, ad)
        except Exception: fail("object failed authentication")
        out.append(m)
        final = tag == nb.crypto_secretstream_xchacha20poly1305_TAG_FINAL
        if (not final and (tag != nb.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE or len(chunk) < CH)) \
                or (final and pos != len(data)):
            fail("object failed authentication")  # other tag, short non-final chunk, or bytes after the end
        if final: return b"".join(out)

# ---------------------------------------------------------------- the read path
def run(argv):
    checkpoint, args, show_file_info = None, [], False
    while argv:
        a = argv.pop(0)
        if a == "--checkpoint" and argv: checkpoint = argv.pop(0)
        elif a == "--file-info": show_file_info = True  # print the version's original name and media type (§11a)
        else: args.append(a)
    if len(args) not in (5, 6) or (len(args) == 6 and not re.fullmatch(r"[0-9]{1,18}", args[5])):
        fail("usage: decrypt-with-pynacl.py VAULT STAFF_ID PASSPHRASE_FILE CASE DOCUMENT [VERSION] [--checkpoint FILE] [--file-info]")
    vault, sid, pwfile, case, doc = args[:5]
    # §12: document names are stored in NFC, except a format-1 document stored under the
    # bytes it was typed with: the NFC name first, then the name as given.
    typed, doc = doc, unicodedata.normalize("NFC", doc)
    want_version = int(args[5]) if len(args) == 6 else None

    # §4: the passphrase is the first line's bytes without its \n or \r\n
    raw = open(pwfile, "rb").read()
    pw = raw.split(b"\n", 1)[0]
    if b"\n" in raw and pw.endswith(b"\r"): pw = pw[:-1]

    # §8: casevault.json, then the catalog read-only (mode=ro) in one transaction.  Note: on a WAL-mode
    # catalog whose -wal/-shm files are absent, SQLite itself creates them beside it even in mode=ro.
    config = json.load(open(os.path.join(vault, "casevault.json"), "rb"))
    if type(config) is not dict or config.get("format") != "casevault-vault": fail("not a casevault vault")
    # Format 3 differs from 2 only in the hash that names new objects (BLAKE3-256, §9). The name is
    # not what makes an object's content trustworthy here: the secretstream under the signed file key,
    # with the version's stamp in its associated data, is (§9, §11), so this decoder does not hash objects.
    if config.get("formatVersion") not in (1, 2, 3): fail("unknown vault format version")
    vault_id = config.get("vaultId")
    if not pat(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")(vault_id): fail("malformed vault id")
    db_path = pathlib.Path(vault, "catalog.sqlite").resolve()
    if not db_path.is_file(): fail("no catalog.sqlite in the vault")
    db = sqlite3.connect(db_path.as_uri() + "?mode=ro", uri=True, isolation_level=None)
    db.execute("BEGIN")
    try:
        migrations = {r[0] for r in db.execute("SELECT identifier FROM grdb_migrations")}
        known = {"v1-staff", "v2-events-cases-documents", "v3-form-schemas", "v4-signed-projection",
                 "v5-case-lifecycle", "v6-corrections-and-tags",
                 "v7-aged-out-extensions", "v8-vault-policies", "v9-legal-holds",
                 "v10-retention-policies", "v11-disposals", "v12-key-rotation", "v13-handovers",
                 "v14-case-transfer", "v15-client-name-index", "v16-cases-by-staff", "v17-imported-file-names",
                 "v18-client-name-blobs", "v19-status-change-order", "v20-state-node-order",
                 "v21-report-tallies",  # v21: tally rows only (§12a); nothing here reads them
                 "v22-event-format-3",  # v22: no table changes; events of body format 3 (§12)
                 "v23-event-format-4"}  # v23: no table changes; events of body format 4 (§12)
        if not migrations <= known: fail("the catalog has migrations this decoder does not know")
        global STATE_NODES_CLUSTERED
        STATE_NODES_CLUSTERED = "v20-state-node-order" in migrations
        if "v4-signed-projection" not in migrations:
            fail("the newest event signs no state root; open the vault once with casevault")
        newest = db.execute("SELECT body FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        last = parse_canonical(newest[0]) if newest else None
        if type(last) is dict and last.get("v") == 1:  # §16: format 1 until an event is appended
            fail("the newest event signs no state root; open the vault once with casevault")

        # §12, §12b: the whole log from event 1; the trusted state root is the newest event's state
        events, leaves, staff = verify_log(db, vault_id)
        if checkpoint is not None: check_checkpoint(checkpoint, vault_id, leaves, staff)
        check_log_nodes(db, leaves)
        root = bytes.fromhex(events[-1]["state"])

        # §8 (2): casevault.json must equal the signed settings (the `vault` record)
        settings = check_record(db, root, "vault record", "vault",
                                lambda: vault_record(one(q(db, "SELECT * FROM vault_settings"))))
        if settings is None: fail("the catalog has no vault settings")
        if any(canon(config.get(k)) != canon(v) for k, v in settings.items() if k != "eventSeq"):
            fail("casevault.json differs from the vault's signed settings")

        # §3, §4: the reader's staff record through the signed state, then their wrapped keys
        me = check_record(db, root, f"staff member {sid}", f"staff/{sid}",
                          lambda: staff_record(one(q(db, "SELECT * FROM staff WHERE id = ?", sid))))
        if me is None: fail(f"no staff member '{sid}'")
        wrapped = get_blob(db, me["wrappedKeysHash"], "wrapped keys")
        box_sk, sign_sk = unwrap(wrapped, pw, vault_id, leaves)
        box_pk = nb.crypto_scalarmult_base(box_sk)
        sign_pk, sign_sk2 = nb.crypto_sign_seed_keypair(sign_sk[:32])
        if box_pk.hex() != me["boxPublicKey"] or sign_pk.hex() != me["signingPublicKey"] or sign_sk2 != sign_sk:
            fail("the unwrapped keys are not the signed public keys of this member")
        if me["role"] not in READERS:  # §3 table
            role = me["role"].replace("-", " ")
            fail(f"{'an' if role[0] in 'aeiou' else 'a'} {role} cannot read content")

        # §12a, reading: the case record (with grants), the document record, the version record
        crec = check_record(db, root, f"case {case}", f"case/{case}", lambda: case_record(
            one(q(db, "SELECT * FROM cases WHERE number = ?", case)),
            q(db, "SELECT * FROM grants WHERE case_number = ?", case)))
        if crec is None: fail(f"no case {case}")
        # §12a disposed/<case>: a disposed case's keys are erased (§12, "Disposal")
        if "v11-disposals" in migrations:
            gone = check_record(db, root, f"disposal of {case}", f"disposed/{case}", lambda: disposal_record(
                one(q(db, "SELECT * FROM disposals WHERE case_number = ?", case))))
            if gone is not None:
                fail(f"{case} was disposed of on {gone['at'][:10]} under retention policy v{gone['policyVersion']} ({gone['rule']}): its keys are erased")
        def document(name):
            return check_record(db, root, f"document '{name}'", f"document/{case}/{name}", lambda: document_record(
                one(q(db, "SELECT * FROM documents WHERE case_number = ? AND name = ?", case, name))))
        drec = document(doc)
        if drec is None and typed != doc:
            drec = document(typed)
            if drec is not None: doc = typed
        if drec is None: fail(f"no document '{doc}' in case {case}")
        # §12a: the document's withdrawals; by default the newest version not withdrawn
        wrecs = check_record(db, root, f"the withdrawals of '{doc}'", f"withdrawals/{case}/{doc}", lambda: withdrawal_state(
            q(db, "SELECT * FROM withdrawals WHERE case_number = ? AND document = ?", case, doc)))
        withdrawn = {w["version"]: w for w in (wrecs or {"versions": []})["versions"]}
        if want_version is None:
            current = [v for v in range(drec["latestVersion"], 0, -1) if v not in withdrawn]
            if not current: fail(f"every version of '{doc}' is withdrawn; give --version N")
            ver = current[0]
        else:
            ver = want_version
        if ver in withdrawn:
            w = withdrawn[ver]
            print(f"decrypt-with-pynacl: warning: version {ver} was withdrawn on {w['at']} by {w['by']}: {w['reason']}",
                  file=sys.stderr)
        if not 1 <= ver <= drec["latestVersion"]:
            fail(f"'{doc}' has no version {ver} (its latest is {drec['latestVersion']})")
        vrec = check_record(db, root, f"version {ver} of '{doc}'", f"version/{case}/{doc}/{ver}",
                            lambda: version_record(one(q(
                                db, "SELECT * FROM versions WHERE case_number = ? AND document = ? AND version = ?",
                                case, doc, ver))))
        if vrec is None: fail(f"the signed state has no version {ver} of '{doc}'")

        # §11, §3 "Rotation": the holder's grant of the version's key generation -> tier key -> file key -> object
        tier = vrec["tier"]
        generation = vrec.get("keyGeneration", 1)
        grant = [g for g in crec["grants"] if g["tier"] == tier and g["holder"] == f"staff:{sid}"
                 and g.get("generation", 1) == generation]
        if not grant: fail(f"no grant for generation {generation} of the {tier} tier")
        if grant[0]["holderPublicKey"] != me["boxPublicKey"]: fail(f"your {tier} grant is sealed to another key")
        tier_sk = open_sealed(db, grant[0]["sealedKeyHash"], f"sealed {tier} tier key", box_pk, box_sk)
        tier_pk = nb.crypto_scalarmult_base(tier_sk)
        keys = crec["case"].get("keys", {}).get(tier, {"generation": 1, "older": []})
        if generation == keys["generation"]: expected = crec["case"][f"{tier}PublicKey"]
        else: expected = next((o["publicKey"] for o in keys["older"] if o["generation"] == generation), None)
        if tier_pk.hex() != expected: fail(f"the {tier} tier key is not the case's {tier} public key of generation {generation}")
        file_key = open_sealed(db, vrec["sealedFileKeyHash"], "sealed file key", tier_pk, tier_sk)
        oid = vrec["objectId"]
        if not HEX(oid): fail("the version's object id is malformed")
        try: data = open(os.path.join(vault, "objects", oid[:2], oid), "rb").read()
        except OSError: fail(f"object {oid} is missing")
        # §11a: nonce (24) || secretbox under BLAKE2b-256 keyed with the file key over the context and the object id
        file_info = None
        if "fileInfoHash" in vrec:
            sealed_info = get_blob(db, vrec["fileInfoHash"], "sealed file name")
            info_key = hashlib.blake2b(b"casevault-file-info-v1\n" + oid.encode(), key=file_key, digest_size=32).digest()
            try: file_info = nb.crypto_secretbox_open(sealed_info[24:], sealed_info[:24], info_key)
            except Exception: fail("the sealed file name failed authentication")
            info = parse_canonical(file_info)
            if type(info) is not dict or not {"mediaType"} <= set(info) <= {"mediaType", "name"} \
                    or not all(type(v) is str and v for v in info.values()):
                fail("the sealed file name is not {mediaType, name} in canonical JSON")
    finally:
        db.execute("ROLLBACK")
        db.close()

    origin = vrec.get("origin") or {"case": case, "document": doc}  # a moved version: where it was filed
    ad = b"casevault-object-v1\n" + canon_bytes({  # §11 associated data
        "case": origin["case"], "document": origin["document"], "stamp": vrec["stamp"], "tier": tier, "type": vrec["type"],
        "vault": origin.get("vault", vault_id), "version": ver})  # an imported version: the vault it was filed in (§11)
    plaintext = decrypt_stream(data, file_key, ad)  # §9; nothing is written before the final chunk authenticates
    if (len(plaintext), len(data)) != (vrec["size"], vrec["ciphertextSize"]):
        fail("the object's size is not the signed size")
    if show_file_info:
        sys.stdout.buffer.write((file_info or b"null") + b"\n")
        return
    sys.stdout.buffer.write(plaintext)
    sys.stdout.buffer.flush()

def main():
    try: return run(sys.argv[1:]) or 0
    except Fail as e:
        msg = str(e)
    except Exception as e:  # anything unexpected is a refusal too, still on one line
        msg = f"{type(e).__name__}: {e}"
    print("decrypt-with-pynacl: " + msg.replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)
    return 1

if __name__ == "__main__":
    sys.exit(main())
