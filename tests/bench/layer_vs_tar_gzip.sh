#!/usr/bin/env bash
# Benchmark: `mrforge archive` (deterministic pax tar + parallel gzip -6, as an OCI layer is
# written) against the reproducible-tar recipe `tar --sort=name ... | gzip -n -6` on the same
# generated tree of ~200 MB in ~10,000 files, timed by hyperfine in the same run. Goals: with
# --threads 1 no slower than tar | gzip (ratio <= 1.0); with --threads 2 at least 1.6x faster.
# Also the peak RSS of mrforge (goal < 200 MB) on that tree and on one twice as large, to show
# that memory does not grow with the tree. Not a test: timings depend on the machine.
#
# Usage: tests/bench/layer_vs_tar_gzip.sh [path/to/mrforge]   (default build/cli/mrforge)
# Prints the medians, ratios and peak RSS; exits 1 if a goal is missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }
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
echo "tree: $(du -sb "$work/tree" | cut -f1) bytes in $(find "$work/tree" -type f | wc -l) files;" \
  "2x tree: $(du -sb "$work/tree2x" | cut -f1) bytes in $(find "$work/tree2x" -type f | wc -l) files"

baseline="tar --sort=name --mtime=@$T --owner=0 --group=0 --numeric-owner --format=pax -cf - -C $work/tree . | gzip -n -6 > $work/base.tar.gz"
ours() { printf '%q archive %q -o %q --mtime %s --threads %s' "$mrforge" "$work/tree" "$work/ours$1.tar.gz" "$T" "$1"; }
eval "$(ours 1)" >/dev/null
hyperfine --warmup 1 --runs 7 --export-json "$work/bench.json" \
  -n "tar | gzip -n -6" "$baseline" \
  -n "mrforge archive --threads 1" "$(ours 1)" \
  -n "mrforge archive --threads 2" "$(ours 2)"
cmp "$work/ours1.tar.gz" "$work/ours2.tar.gz" # same bytes for any thread count

rss() { # TREE THREADS -> peak RSS in MB
  /usr/bin/time -v "$mrforge" archive "$1" -o "$work/rss.tar.gz" --mtime $T --threads "$2" 2>&1 >/dev/null |
    awk '/Maximum resident set size/ { printf "%.1f", $6 / 1024 }'
  rm -f "$work/rss.tar.gz"
}
rss1=$(rss "$work/tree" 1); rss2=$(rss "$work/tree" 2); rss2x=$(rss "$work/tree2x" 2)
echo "sizes: tar|gzip $(stat -c %s "$work/base.tar.gz") bytes, mrforge $(stat -c %s "$work/ours1.tar.gz") bytes"
python3 - "$work/bench.json" "$rss1" "$rss2" "$rss2x" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
base, t1, t2 = r["tar | gzip -n -6"], r["mrforge archive --threads 1"], r["mrforge archive --threads 2"]
rss1, rss2, rss2x = (float(v) for v in sys.argv[2:5])
print(f"median: tar|gzip {base:.2f} s, mrforge --threads 1 {t1:.2f} s, --threads 2 {t2:.2f} s")
print(f"threads 1: {t1 / base:.2f} of baseline time (goal <= 1.00); threads 2: {base / t2:.2f}x faster (goal >= 1.60)")
print(f"peak RSS: --threads 1 {rss1:.1f} MB, --threads 2 {rss2:.1f} MB, 2x tree --threads 2 {rss2x:.1f} MB (goal < 200 MB)")
ok = t1 <= base and base / t2 >= 1.6 and max(rss1, rss2, rss2x) < 200
sys.exit(0 if ok else 1)
PY
