#!/usr/bin/python3
# Writes the seed corpus of fuzz_dstack_measurement (tests/fuzz/corpus/dstack_measurement) from the
# real measurement file and checksum file in ../shared/vectors/dstack/tdx-lite-getquote.json
# (vm_config.tdx_measurement), plus malformed variants of them, each described below.
# Run from the repository root: tests/fuzz/make_dstack_seeds.py
import base64, json, os

out = "tests/fuzz/corpus/dstack_measurement"
doc = json.load(open("../shared/vectors/dstack/tdx-lite-getquote.json"))
vm = doc["vm_config"]
vm = json.loads(vm) if isinstance(vm, str) else vm
cbor = base64.b64decode(vm["tdx_measurement"]["measurement"])
sums = base64.b64decode(vm["tdx_measurement"]["checksum_file"])
i = cbor.index(b"td_hob") + len(b"td_hob")
witness = cbor[i + 1:]  # after the bstr head 0x4c (12 bytes)

seeds = {
    "tdx-lite-measurement.cbor": cbor,                      # the real file (384 bytes)
    "tdx-lite-sha256sum.txt": sums,                         # its checksum file
    "tdx-lite-td-hob-witness": witness,                     # the TD HOB witness alone
    "truncated-half.cbor": cbor[: len(cbor) // 2],          # cut inside image.kernel_authenticode
    "trailing-byte.cbor": cbor + b"\x00",                   # one byte after the map
    "version-4.cbor": cbor.replace(b"version\x03", b"version\x04", 1),
    "indefinite-map.cbor": b"\xbf" + cbor[1:],              # top-level map as indefinite length
    "map-count-2-64.cbor": b"\xbb\xff\xff\xff\xff\xff\xff\xff\xff" + cbor[1:],  # a map claiming 2^64-1 pairs
    "bstr-length-2-63.cbor": b"\xa1\x41k\x5b\x7f\xff\xff\xff\xff\xff\xff\xff",  # a byte string claiming 2^63-1 bytes
    "unknown-key.cbor": cbor.replace(b"\x68two_pass", b"\x68two_pasz", 1),  # an unknown key in tdvf.mrtd
    "duplicate-key.cbor": cbor.replace(b"\x64mrtd", b"\x64ovmf", 1),  # tdvf.ovmf twice, tdvf.mrtd missing
    "nested-deep.cbor": b"\xa1\x61a" * 40 + b"\x00",         # maps nested 40 deep
    "tag-and-float.cbor": b"\xa1\x67version\xc1\xfb\x40\x08\x00\x00\x00\x00\x00\x00",  # a tagged float version
    "witness-nonminimal": b"\x80\x00" + witness[1:],         # base page 0 written in two bytes
    "witness-overlap": bytes([0x80, 0x10, 0x09, 0x02, 0x00, 0x10, 0x01, 0x02]),  # ranges overlapping
    "sha256sum-duplicate.txt": sums + sums,                  # measurement.tdx.cbor listed twice
}
os.makedirs(out, exist_ok=True)
for name, data in sorted(seeds.items()):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(len(seeds), "seeds in", out)
