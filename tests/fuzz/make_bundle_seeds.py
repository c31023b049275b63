#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_bundle (tests/fuzz/corpus/bundle): a valid input bundle for the
fuzz target's fixed plan (one package, one local file; keep the two in step) and hostile variants
of it. The index is written as mrforge writes it (sorted keys, two-space indentation, final
newline); the tar as `mrforge fetch --export` writes it (ustar, mtime 0, uid/gid 0, no names).

Usage: tests/fuzz/make_bundle_seeds.py tests/fuzz/corpus/bundle
"""
import hashlib
import io
import json
import os
import sys
import tarfile

PACKAGE = b"package bytes\n"
MOTD = b"hello\n"
PACKAGE_NAME = "sources/bookworm/pool/main/p_1_amd64.deb"
MOTD_NAME = "files/fuzz.yaml/motd"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def index(extra_entries=()):
    entries = [
        {"kind": "file", "name": MOTD_NAME, "recipes": ["fuzz.yaml"], "sha256": sha(MOTD), "size": len(MOTD)},
        {"kind": "package", "name": PACKAGE_NAME, "recipes": ["fuzz.yaml"], "sha256": sha(PACKAGE),
         "size": len(PACKAGE)},
    ] + list(extra_entries)
    doc = {"bundleVersion": 1,
           "recipes": [{"id": "fuzz.yaml", "lock": "fuzz.yaml.lock", "lock_sha256": sha(b"lock\n"),
                        "name": "fuzz", "recipe": "fuzz.yaml"}],
           "entries": sorted(entries, key=lambda e: e["name"])}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def tar(members, fmt=tarfile.USTAR_FORMAT):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as t:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = 0o644, 0, 0, 0, "", ""
            info.type = kind
            if kind == tarfile.SYMTYPE or kind == tarfile.LNKTYPE:
                info.linkname = data.decode()
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    reg = tarfile.REGTYPE
    good = [("index.json", index(), reg), (MOTD_NAME, MOTD, reg), (PACKAGE_NAME, PACKAGE, reg)]
    valid = tar(good)
    seeds = {
        "valid.tar": valid,
        "cut-in-package.tar": valid[:valid.index(PACKAGE) + 7],
        "cut-in-index.tar": valid[:700],
        "flipped-package.tar": tar(good[:2] + [(PACKAGE_NAME, b"packagE bytes\n", reg)]),
        "longer-package.tar": tar(good[:2] + [(PACKAGE_NAME, PACKAGE + b"!", reg)]),
        "index-not-first.tar": tar([good[1], good[0], good[2]]),
        "unlisted-entry.tar": tar(good + [("sources/bookworm/pool/main/evil.deb", b"evil\n", reg)]),
        "twice.tar": tar(good + [good[2]]),
        "missing-package.tar": tar(good[:2]),
        "symlink-entry.tar": tar(good[:2] + [(PACKAGE_NAME, b"/etc/passwd", tarfile.SYMTYPE)]),
        "hardlink-entry.tar": tar(good[:2] + [(PACKAGE_NAME, MOTD_NAME.encode(), tarfile.LNKTYPE)]),
        "dotdot-entry.tar": tar(good + [("../../escape", b"x", reg)]),
        "index-listing-stranger.tar": tar([("index.json", index([{"kind": "package", "name": "x.deb",
                                                                   "recipes": ["fuzz.yaml"], "sha256": sha(b"x"),
                                                                   "size": 1}]), reg)] + good[1:]),
        "index-not-json.tar": tar([("index.json", b"{\"bundleVersion\": 1, [", reg)] + good[1:]),
        "pax-long-name.tar": tar(good + [("sources/" + "d" * 300 + "/p.deb", PACKAGE, reg)], tarfile.PAX_FORMAT),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
