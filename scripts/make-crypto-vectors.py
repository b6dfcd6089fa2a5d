#!/usr/bin/env python3
"""Writes Tests/CaseVaultCryptoTests/Vectors/crypto-vectors.json.

The vectors come from PyNaCl (pip install pynacl), an implementation
independent of our Swift code, so the Swift known-answer tests prove that
CaseVaultCrypto produces and reads the same bytes as libsodium's reference
bindings -- and that the wrapped-key format in SECURITY.md can be written by
someone who only read that document.

Inputs are fixed (no randomness), except where a primitive is randomised by
design (secretstream headers, sealed boxes): for those the vector holds the
ciphertext PyNaCl produced, and the test checks that we open it.

Run:  python3 scripts/make-crypto-vectors.py
"""
import base64
import hashlib
import json
import os
import struct

from nacl import bindings as b
from nacl import pwhash

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "CaseVaultCryptoTests", "Vectors", "crypto-vectors.json")
CHUNK = 64 * 1024


def pattern(n, seed=0):
    return bytes((i * 31 + seed) % 251 for i in range(n))


def b64(data):
    return base64.b64encode(data).decode()


def secretstream(key, ad, plaintext):
    """Our object stream: header, then 64 KiB chunks, the last tagged FINAL."""
    state = b.crypto_secretstream_xchacha20poly1305_state()
    header = b.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    chunks = [plaintext[i:i + CHUNK] for i in range(0, len(plaintext), CHUNK)] or [b""]
    out = header
    for i, chunk in enumerate(chunks):
        tag = (b.crypto_secretstream_xchacha20poly1305_TAG_FINAL if i == len(chunks) - 1
               else b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        out += b.crypto_secretstream_xchacha20poly1305_push(state, chunk, ad, tag)
    return out


def main():
    vectors = {"source": "PyNaCl " + __import__("nacl").__version__ + " (libsodium bindings)",
               "secretstream": [], "sealedBox": [], "secretBox": [], "argon2id": [],
               "ed25519": [], "x25519": [], "blake2b256": [], "sha256": [], "wrappedSecret": [],
               "foreignTags": []}

    key = pattern(32, 7)
    for size in (0, 1, 65535, 65536, 65537, 3 * CHUNK + 5):
        ad = ("casevault test AD %d" % size).encode()
        pt = pattern(size, size % 13)
        ct = secretstream(key, ad, pt)
        vectors["secretstream"].append({"key": key.hex(), "associatedData": ad.hex(), "plaintextLength": size,
                                        "plaintextSHA256": hashlib.sha256(pt).hexdigest(),
                                        "plaintextSeed": size % 13, "ciphertext": b64(ct)})

    # Streams with a tag casevault never writes in the middle: must be refused.
    for name, tag in (("push", b.crypto_secretstream_xchacha20poly1305_TAG_PUSH),
                      ("rekey", b.crypto_secretstream_xchacha20poly1305_TAG_REKEY)):
        state = b.crypto_secretstream_xchacha20poly1305_state()
        ad = b"foreign " + name.encode()
        ct = b.crypto_secretstream_xchacha20poly1305_init_push(state, key)
        ct += b.crypto_secretstream_xchacha20poly1305_push(state, pattern(CHUNK), ad, b.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        ct += b.crypto_secretstream_xchacha20poly1305_push(state, pattern(CHUNK, 1), ad, tag)
        ct += b.crypto_secretstream_xchacha20poly1305_push(state, b"end", ad, b.crypto_secretstream_xchacha20poly1305_TAG_FINAL)
        vectors["foreignTags"].append({"tag": name, "key": key.hex(), "associatedData": ad.hex(), "ciphertext": b64(ct)})

    for i, msg in enumerate((b"", b"file key 32 bytes...............", pattern(100, 3))):
        pk, sk = b.crypto_box_seed_keypair(pattern(32, 40 + i))
        vectors["sealedBox"].append({"secretKey": sk.hex(), "publicKey": pk.hex(), "message": msg.hex(),
                                     "sealed": b.crypto_box_seal(msg, pk).hex()})
        vectors["x25519"].append({"secretKey": sk.hex(), "publicKey": pk.hex()})

    for i, msg in enumerate((b"", b"hello", pattern(1000, 5))):
        k, n = pattern(32, 60 + i), pattern(24, 70 + i)
        vectors["secretBox"].append({"key": k.hex(), "nonce": n.hex(), "message": msg.hex(),
                                     "ciphertext": b.crypto_secretbox(msg, n, k).hex()})

    for pw, ops, mem in ((b"correct horse battery staple", 1, 8192), (b"p\xc3\xa4ssphrase", 2, 65536),
                         (b"x" * 100, 3, 1 << 20)):
        salt = pattern(16, ops)
        derived = pwhash.argon2id.kdf(32, pw, salt, opslimit=ops, memlimit=mem)
        vectors["argon2id"].append({"passphrase": pw.hex(), "salt": salt.hex(), "opsLimit": ops,
                                    "memLimit": mem, "key": derived.hex()})

    for i, msg in enumerate((b"", b"event", pattern(500, 9))):
        seed = pattern(32, 80 + i)
        pk, sk = b.crypto_sign_seed_keypair(seed)
        sig = b.crypto_sign(msg, sk)[:64]
        vectors["ed25519"].append({"secretKey": sk.hex(), "publicKey": pk.hex(), "message": msg.hex(),
                                   "signature": sig.hex()})

    for size in (0, 3, 128, 1000, 1 << 20):
        data = pattern(size, 11)
        vectors["blake2b256"].append({"length": size, "seed": 11,
                                      "digest": b.crypto_generichash_blake2b_salt_personal(data, digest_size=32).hex()})
        vectors["sha256"].append({"length": size, "seed": 11, "digest": hashlib.sha256(data).hexdigest()})

    # WrappedSecret, written from SECURITY.md's layout alone.
    for pw, ops, mem, secret in ((b"correct horse battery staple", 1, 8192, pattern(96, 1)),
                                 (b"another passphrase!", 2, 65536, pattern(32, 2))):
        salt, nonce = pattern(16, 90), pattern(24, 91)
        kek = pwhash.argon2id.kdf(32, pw, salt, opslimit=ops, memlimit=mem)
        blob = b"CVW1" + bytes([2]) + struct.pack("<QQ", ops, mem) + salt + nonce + b.crypto_secretbox(secret, nonce, kek)
        vectors["wrappedSecret"].append({"passphrase": pw.hex(), "secret": secret.hex(), "blob": blob.hex()})

    with open(OUT, "w") as f:
        json.dump(vectors, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
