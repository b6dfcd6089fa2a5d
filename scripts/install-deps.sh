#!/usr/bin/env bash
# Installs what casevault needs to build and test on Debian/Ubuntu, and
# nothing that is already there. Called by `make demo` and `make test`.
set -euo pipefail

# chromium: the label sheet is laid out and screenshot in a real browser (tests, demo).
packages=(libsodium-dev libarchive-dev libarchive-tools libsqlite3-dev pkg-config 7zip util-linux sqlite3 python3 python3-pip python3-nacl python3-jsonschema chromium)

if ! command -v swift >/dev/null 2>&1; then
    echo "casevault: error: the Swift toolchain (6.1 or newer) is not on PATH" >&2
    echo "hint: install Swift from swift.org, then run this again" >&2
    exit 1
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        # -n: fail at once rather than wait at a password prompt with no terminal.
        if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
            echo "casevault: error: missing packages ${missing[*]} and not root" >&2
            echo "hint: run 'apt-get install -y ${missing[*]}' as root" >&2
            exit 1
        fi
    fi
    # sudo resets the environment, so the frontend is passed through env.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# PyNaCl runs the independent decoder (scripts/decrypt-with-pynacl.py) in
# the tests, proving SECURITY.md is precise enough to decrypt a document;
# jsonschema checks every schema in Schemas/ against the 2020-12 meta-schema;
# bagit-python validates the audit exports (RFC 8493) in the tests.
# Debian's python3-nacl and python3-jsonschema serve the system python3; a
# python3 of its own earlier on PATH (pyenv) gets them from PyPI.
python=python3
for module in nacl:pynacl jsonschema:jsonschema bagit:bagit; do
    if ! "$python" -c "import ${module%%:*}" >/dev/null 2>&1; then
        echo "==> installing ${module##*:} (pip)"
        "$python" -m pip install --quiet "${module##*:}" 2>/dev/null \
            || "$python" -m pip install --quiet --break-system-packages "${module##*:}" \
            || { echo "casevault: error: could not install ${module##*:} from PyPI" >&2; exit 1; }
    fi
done
