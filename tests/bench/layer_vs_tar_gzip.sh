#!/usr/bin/env bash
# Benchmark: `mrforge archive` (deterministic pax tar + parallel gzip -6 or zstd -3, as an OCI
# layer is written) against the reproducible-tar recipe `tar --sort=name ... | COMPRESSOR`, timed
# by hyperfine in the same run, on two trees: a generated one of ~200 MB in ~10,000 files, and a
# real one nobody here wrote (GCC's installed /usr/lib/gcc, ~240 MB; or TREE2=DIR). Goals, on 2
# cores: gzip with --threads 2 at least 5x faster than `tar | gzip -n -6` and at least 2x faster
# than `tar | pigz -p2 -n -6`, output no larger than gzip -6's; zstd with --threads 2 at least as
# fast as `tar | zstd -T2 -3`; the same bytes for --threads 1 and 2. Also the peak RSS of mrforge
# (goal < 200 MB) on the generated tree and one twice as large, to show that memory does not grow
# with the tree. Not a test: timings depend on the machine.
#
# Usage: tests/bench/layer_vs_tar_gzip.sh [path/to/mrforge]   (default build/cli/mrforge)
# Prints the medians, ratios, sizes and peak RSS; exits 1 if a goal is missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
real_tree=${TREE2:-/usr/lib/gcc}
for tool in hyperfine pigz zstd; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
[ -d "$real_tree" ] || { echo "needs the real tree $real_tree (set TREE2=DIR)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
T=1700000000

# A reproducible tree: DIRS directories of 100 files each, sizes log-uniform from 64 B to 128 KiB
# (a few of 4 MiB), half text (words from a fixed vocabulary, like docs and scripts) and half
# "binary" (random runs mixed with repeated runs and zeros, about as compressible as shared
# libraries). Same seed, same bytes, on any machine.
generate() { # DIR DIRS
  python3 - "$1" "$2" <<'PY'
import os, random, sys
out, dirs = sys.argv[1], int(sys.argv[2])
rng = random.Random(20240601)
vocab = [''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(2, 10))) for _ in range(5000)]
def text(n):
    parts, size = [], 0
    while size < n:
        line = ' '.join(rng.choices(vocab, k=rng.randint(3, 14))) + '\n'
        parts.append(line); size += len(line)
    return ''.join(parts).encode()[:n]
def binary(n):
    parts, size = [], 0
    while size < n:
        kind = rng.random()
        if kind < 0.25: chunk = rng.randbytes(rng.randint(64, 1024))
        elif kind < 0.75 and parts: chunk = parts[rng.randrange(len(parts))][:rng.randint(16, 2048)]
        else: chunk = bytes(rng.randint(16, 1024))
        parts.append(chunk); size += len(chunk)
    return b''.join(parts)[:n]
for d in range(dirs):
    dpath = os.path.join(out, f'lib{d // 10:03d}', f'pkg{d:04d}')
    os.makedirs(dpath, exist_ok=True)
    for f in range(100):
        n = 4 << 20 if rng.random() < 0.001 else int(64 * 2048 ** rng.random())
        name = f'file{f:03d}' + ('.txt' if f % 2 == 0 else '.so')
        with open(os.path.join(dpath, name), 'wb') as fh:
            fh.write(text(n) if f % 2 == 0 else binary(n))
PY
}
generate "$work/tree" 100
generate "$work/tree2x" 200
summary() { echo "$(du -sb "$1" | cut -f1) bytes in $(find "$1" -type f | wc -l) files"; }
echo "generated tree: $(summary "$work/tree"); 2x tree: $(summary "$work/tree2x"); real tree $real_tree: $(summary "$real_tree")"

bench() { # NAME TREE
  local name=$1 tree=$2
  local tar="tar --sort=name --mtime=@$T --owner=0 --group=0 --numeric-owner --format=pax -cf - -C $tree ."
  ours() { printf '%q archive %q -o %q --mtime %s --threads %s --compression %s --level %s' \
    "$mrforge" "$tree" "$work/$name-ours$1.$2" "$T" "$1" "$2" "$3"; }
  eval "$(ours 1 gzip 6)" >/dev/null
  eval "$(ours 2 gzip 6)" >/dev/null
  cmp "$work/$name-ours1.gzip" "$work/$name-ours2.gzip" # same bytes for any thread count
  echo "$name: --threads 1 and 2 give the same bytes"
  hyperfine --warmup 1 --runs 5 --export-json "$work/$name.json" \
    -n "tar | gzip -n -6" "$tar | gzip -n -6 > $work/$name-base.gz" \
    -n "tar | pigz -p2 -n -6" "$tar | pigz -p2 -n -6 > $work/$name-pigz.gz" \
    -n "tar | zstd -T2 -3" "$tar | zstd -q -T2 -3 > $work/$name-base.zst" \
    -n "mrforge gzip --threads 2" "$(ours 2 gzip 6)" \
    -n "mrforge zstd --threads 2" "$(ours 2 zstd 3)"
  echo "$(stat -c %s "$work/$name-base.gz") $(stat -c %s "$work/$name-ours2.gzip")" > "$work/$name.sizes"
}
bench generated "$work/tree"
bench real "$real_tree"

rss() { # TREE THREADS -> peak RSS in MB
  /usr/bin/time -v "$mrforge" archive "$1" -o "$work/rss.tar.gz" --mtime $T --threads "$2" 2>&1 >/dev/null |
    awk '/Maximum resident set size/ { printf "%.1f", $6 / 1024 }'
  rm -f "$work/rss.tar.gz"
}
rss1=$(rss "$work/tree" 1); rss2=$(rss "$work/tree" 2); rss2x=$(rss "$work/tree2x" 2)
python3 - "$work" "$rss1" "$rss2" "$rss2x" <<'PY'
import json, sys
work = sys.argv[1]
rss1, rss2, rss2x = (float(v) for v in sys.argv[2:5])
ok = True
for name in ("generated", "real"):
    r = {x["command"]: x["median"] for x in json.load(open(f"{work}/{name}.json"))["results"]}
    gz, pigz, zst = r["tar | gzip -n -6"], r["tar | pigz -p2 -n -6"], r["tar | zstd -T2 -3"]
    ours_gz, ours_zst = r["mrforge gzip --threads 2"], r["mrforge zstd --threads 2"]
    base_size, our_size = (int(v) for v in open(f"{work}/{name}.sizes").read().split())
    print(f"{name}: median tar|gzip {gz:.2f} s, tar|pigz -p2 {pigz:.2f} s, tar|zstd -T2 {zst:.2f} s, "
          f"mrforge gzip {ours_gz:.2f} s, mrforge zstd {ours_zst:.2f} s")
    print(f"{name}: gzip {gz / ours_gz:.2f}x tar|gzip (goal >= 5), {pigz / ours_gz:.2f}x tar|pigz (goal >= 2); "
          f"zstd {zst / ours_zst:.2f}x tar|zstd (goal >= 1); size {our_size} vs gzip -6 {base_size} bytes "
          f"({our_size / base_size:.4f}, goal <= 1)")
    ok = ok and gz / ours_gz >= 5 and pigz / ours_gz >= 2 and zst / ours_zst >= 1 and our_size <= base_size
print(f"peak RSS: --threads 1 {rss1:.1f} MB, --threads 2 {rss2:.1f} MB, 2x tree --threads 2 {rss2x:.1f} MB (goal < 200 MB)")
ok = ok and max(rss1, rss2, rss2x) < 200
sys.exit(0 if ok else 1)
PY
