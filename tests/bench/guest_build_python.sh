#!/usr/bin/env bash
# Benchmark: building the realistic guest, recipes/debian-bookworm-python.yaml (82 root file system
# packages, about 190 MB installed: python3, Flask, pandas/NumPy, cryptography, lxml, PyYAML,
# requests; a 205 MB erofs root). Goals (issue 20), on 2 cores: a cold build in under 20 s, a no-op
# build in under 0.5 s, peak RSS under 256 MB.
#   cold:  every locked input is in the store (fetched first, not timed) and nothing else: the
#          step cache (STORE/steps) and the kept control files (STORE/deb-control) are removed
#          before each run, as is the output directory.
#   no-op: the same build again with everything cached and the output in place.
# For scale, the same run times what a shell script would do for the root file system alone:
# `dpkg-deb -x` of each root file system package, mkfs.erofs, veritysetup format (no kernel, no
# initramfs, no users, no measurements, no SBOMs, no checks).
# Not a test: timings depend on the machine (tests/python_guest_test.cpp checks the build itself).
#
# Usage: tests/bench/guest_build_python.sh [path/to/mrforge]   (default build/cli/mrforge)
# STORE=DIR reuses a store (default: a fresh one; the fetch needs deb.debian.org, and takes the
# kernel package from /var/cache/apt/archives when it is there). Prints the medians and peak RSS;
# exits 1 if a goal is missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
recipe=$root/recipes/debian-bookworm-python.yaml
for tool in hyperfine dpkg-deb mkfs.erofs veritysetup python3; do
  command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
store=${STORE:-$work/store}
"$mrforge" fetch -q --frozen --store "$store" --debs /var/cache/apt/archives "$recipe"
q() { printf '%q' "$1"; }
build() { echo "$(q "$mrforge") build -q --frozen --offline --store $(q "$store") $(q "$recipe") -o $(q "$1")"; }
clean="rm -rf $(q "$store/steps") $(q "$store/deb-control") $(q "$work/cold")"

# The baseline's inputs: the root file system's packages, from the lock.
python3 - "$recipe.lock" "$store" > "$work/rootfs-debs" <<'PY'
import json, sys
lock, store = json.load(open(sys.argv[1])), sys.argv[2]
for p in lock["packages"]:
    if "rootfs" in p["sets"]:
        print(f'{store}/sha256/{p["sha256"]}')
PY
cat > "$work/baseline.sh" <<'SH'
set -e
work=$1
rm -rf "$work/base" "$work/base.img"
mkdir "$work/base"
while read -r deb; do dpkg-deb -x "$deb" "$work/base"; done < "$work/rootfs-debs"
mkfs.erofs -T0 --all-root --quiet "$work/base.img" "$work/base"
veritysetup format "$work/base.img" "$work/base.img" --data-blocks=$(( $(stat -c %s "$work/base.img") / 4096 )) \
  --hash-offset=$(stat -c %s "$work/base.img") > /dev/null
SH

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
hyperfine --runs 3 --export-json "$work/cold.json" --prepare "$clean" \
  -n "mrforge build (cold)" "$(build "$work/cold")" \
  -n "dpkg-deb -x + mkfs.erofs + veritysetup" "bash $(q "$work/baseline.sh") $(q "$work")"
peak=$(bash -c "$clean" && /usr/bin/time -f %M bash -c "$(build "$work/cold")" 2>&1 >/dev/null | tail -1)
sleep 2.5 # outputs changed in the last 2 s are hashed again (their stat stamps are too fresh)
hyperfine --warmup 2 --runs 20 --export-json "$work/noop.json" -n "mrforge build (no-op)" "$(build "$work/cold")"
echo "image: $(stat -c %s "$work/cold/rootfs.img") bytes of rootfs.img, $(wc -l < "$work/rootfs-debs") root file system packages"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$work" "$peak" <<'PY'
import json, sys
work, peak_kb = sys.argv[1], int(sys.argv[2])
cold = {x["command"]: x["median"] for x in json.load(open(f"{work}/cold.json"))["results"]}
noop = json.load(open(f"{work}/noop.json"))["results"][0]["median"]
ours, base = cold["mrforge build (cold)"], cold["dpkg-deb -x + mkfs.erofs + veritysetup"]
peak = peak_kb / 1024
print(f"cold build: median {ours:.2f} s (goal < 20 s); the shell baseline for the root file system alone "
      f"{base:.2f} s (mrforge takes {ours / base:.2f}x its time)")
print(f"no-op build: median {noop * 1000:.0f} ms (goal < 500 ms)")
print(f"peak RSS of a cold build: {peak:.1f} MB (goal < 256 MB)")
sys.exit(0 if ours < 20 and noop < 0.5 and peak < 256 else 1)
PY
