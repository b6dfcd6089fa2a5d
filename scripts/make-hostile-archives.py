#!/usr/bin/env python3
"""Writes the hostile archives the CaseVaultArchive reader must refuse, into
Tests/CaseVaultArchiveTests/Fixtures/. Python's tarfile and zipfile write
them, independently of libarchive. Run: python3 scripts/make-hostile-archives.py
"""
import io
import os
import tarfile
import zipfile

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "CaseVaultArchiveTests", "Fixtures")


def tar(name, members):
    """members: list of (TarInfo-configuring callable, data bytes or None)."""
    mode = "w:gz" if name.endswith(".gz") else "w"
    with tarfile.open(os.path.join(OUT, name), mode, format=tarfile.PAX_FORMAT) as t:
        for configure, data in members:
            info = tarfile.TarInfo()
            info.mtime = 1_700_000_000
            configure(info)
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)


def regular(path):
    def f(i):
        i.name = path
        i.type = tarfile.REGTYPE
    return f


def main():
    os.makedirs(OUT, exist_ok=True)
    ok = b"fine\n"
    tar("absolute-path.tar", [(regular("ok.txt"), ok), (regular("/etc/cron.d/evil"), b"x")])
    tar("dot-dot.tar", [(regular("ok.txt"), ok), (regular("a/../../evil"), b"x")])
    tar("duplicate-name.tar", [(regular("a/form.json"), ok), (regular("a/./form.json"), b"x")])
    tar("backslash.tar", [(regular("..\\evil"), b"x")])

    def symlink(i):
        i.name, i.type, i.linkname = "link", tarfile.SYMTYPE, "/etc/passwd"
    tar("symlink.tar", [(regular("ok.txt"), ok), (symlink, None)])

    def hardlink(i):
        i.name, i.type, i.linkname = "hard", tarfile.LNKTYPE, "ok.txt"
    tar("hardlink.tar", [(regular("ok.txt"), ok), (hardlink, None)])

    def chardev(i):
        i.name, i.type, i.devmajor, i.devminor = "null", tarfile.CHRTYPE, 1, 3
    tar("device.tar", [(chardev, None)])

    def fifo(i):
        i.name, i.type = "pipe", tarfile.FIFOTYPE
    tar("fifo.tar", [(fifo, None)])

    tar("many-entries.tar", [(regular("f%03d.txt" % n), ok) for n in range(20)])
    tar("large-entry.tar.gz", [(regular("big.bin"), b"\0" * (2 << 20))])

    # A zip written to a stream that cannot seek: sizes only in data
    # descriptors, so a streaming reader learns them only by reading.
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.buffer = bytearray()
        def writable(self):
            return True
        def write(self, b):
            self.buffer += b
            return len(b)
    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.bin", b"\0" * (4 << 20))
    with open(os.path.join(OUT, "streamed-bomb.zip"), "wb") as f:
        f.write(sink.buffer)

    with zipfile.ZipFile(os.path.join(OUT, "zip-dot-dot.zip"), "w") as z:
        z.writestr("ok.txt", ok)
        z.writestr("../evil.txt", b"x")
    print("wrote fixtures to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
