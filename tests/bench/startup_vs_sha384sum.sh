#!/usr/bin/env bash
# Benchmark: start-up. `mrforge --version` against `sha384sum --version` (coreutils, a small C
# program linking only libc), timed by hyperfine in the same run without a shell (--shell=none, so
# only the process itself is timed). Goal: a ratio of at most 3. Also prints the
# number of shared libraries the binary loads at start (`ldd`) and those a command that needs
# neither libcurl nor libguestfs maps (LD_DEBUG=files): both libraries are loaded on first use.
# Not a test: timings depend on the machine (ctest checks only what is loaded, tests/startup_test.cpp).
#
# Usage: tests/bench/startup_vs_sha384sum.sh [path/to/mrforge]   (default build/cli/mrforge)
# Prints the medians and the ratio; exits 1 if the ratio is above the goal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
sha=$(command -v sha384sum)
"$mrforge" --version >/dev/null || { echo "$mrforge --version failed" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "libraries: mrforge $(ldd "$mrforge" | wc -l) (ldd lines), sha384sum $(ldd "$sha" | wc -l)"
loaded=$(LD_DEBUG=files "$mrforge" --version 2>&1 >/dev/null | grep -c 'file=' || true)
if LD_DEBUG=files "$mrforge" --version 2>&1 >/dev/null | grep -E 'file=[^ ]*(libcurl|libguestfs)' >&2; then
  echo "mrforge --version loads libcurl or libguestfs" >&2
  exit 1
fi
echo "objects the loader opens for mrforge --version: $loaded (no libcurl, no libguestfs)"
hyperfine --shell=none --warmup 20 --runs 300 --export-json "$work/bench.json" \
  -n "sha384sum --version" "$sha --version" \
  -n "mrforge --version" "$mrforge --version"
python3 - "$work/bench.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base, ours = r["sha384sum --version"]["median"], r["mrforge --version"]["median"]
ratio = ours / base
cpu = {k: (v["user"] + v["system"]) * 1000 for k, v in r.items()}
print(f"CPU time (user+sys, mean): sha384sum --version {cpu['sha384sum --version']:.2f} ms, mrforge --version {cpu['mrforge --version']:.2f} ms")
print(f"median: sha384sum --version {base*1000:.2f} ms, mrforge --version {ours*1000:.2f} ms, ratio {ratio:.2f} (goal <= 3.00)")
sys.exit(0 if ratio <= 3.0 else 1)
PY
