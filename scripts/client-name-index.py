#!/usr/bin/env python3
"""The client-name index of SECURITY.md §12e, written from that text alone,
so a test can hold casevault's index to the document.

    client-name-index.py SEARCH_KEY_HEX CASE_NUMBER NAME

prints one line per key of NAME, in order: the key as KIND:TEXT (s for an
exact key, d for a deletion), a tab, and its token in CASE_NUMBER (16 hex
digits); then the whole index (768 hex digits) on a last line. It uses only
the standard library.
"""
import hashlib
import sys
import unicodedata

ARABIC = {"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",
          "\u0629": "\u0647", "\u0649": "\u064a", "\u06cc": "\u064a", "\u06a9": "\u0643"}
PAIRS = {"ph": "f", "gh": "g", "kh": "k", "th": "t", "dh": "d", "sh": "s", "ch": "s", "zh": "s", "ck": "k"}
SINGLES = {"c": "k", "q": "k", "z": "s", "v": "w", "x": "s"}
VOWELS = set("aeiou")


def parts(name):
    out = []
    for ch in unicodedata.normalize("NFKD", name).lower():
        category = unicodedata.category(ch)
        if category in ("Mn", "Mc", "Me", "Cf") or ch == "\u0640":
            continue
        if category[0] in "LN":
            out.append(ARABIC.get(ch, "\u03c3" if ch == "\u03c2" else ch))
        elif ch in ("'", "\u2019", "`"):
            continue
        else:
            out.append(" ")
    return "".join(out).split()


def skeleton(part):
    letters, i = [], 0
    while i < len(part):
        pair = part[i:i + 2]
        if pair in PAIRS:
            letters.append(PAIRS[pair]); i += 2; continue
        letters.append(SINGLES.get(part[i], part[i])); i += 1
    if not letters:
        return ""
    out = ["a" if letters[0] in VOWELS else letters[0]]
    for c in letters[1:]:
        if c in VOWELS or c == "y" or c == out[-1]:
            continue
        out.append(c)
    if len(out) > 1 and out[-1] == "h":
        out.pop()
    return "".join(out)


def exact_key(part):
    s = skeleton(part)
    if len(s) >= 2:
        return s
    return part if len(part) >= 2 else None


def deletions(text):
    out = []
    if len(text) >= 4:
        for i in range(len(text)):
            d = text[:i] + text[i + 1:]
            if d not in out:
                out.append(d)
    return out


def keys(name):
    seen, result = set(), []
    for part in parts(name):
        exact = exact_key(part)
        if exact is None:
            continue
        for key in [("s", exact)] + [("d", d) for d in deletions(exact)]:
            if key not in seen:
                seen.add(key); result.append(key)
    return result


def token(search_key, case, key):
    message = ("casevault-client-name-v1\n%s\n%s:%s" % (case, key[0], key[1])).encode()
    return hashlib.blake2b(message, key=search_key, digest_size=16).digest()[:8]


def index(search_key, case, name):
    tokens = set()
    for key in keys(name):
        if len(tokens) < 48:
            tokens.add(token(search_key, case, key))
    i = 0
    while len(tokens) < 48:
        tokens.add(token(search_key, case, ("p", str(i))))
        i += 1
    return b"".join(sorted(tokens))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    search_key = bytes.fromhex(sys.argv[1])
    for key in keys(sys.argv[3]):
        print("%s:%s\t%s" % (key[0], key[1], token(search_key, sys.argv[2], key).hex()))
    print(index(search_key, sys.argv[2], sys.argv[3]).hex())
