#!/usr/bin/env bash
# Benchmark: generating QEMU's three ACPI blobs for a 256-CPU shape (`mrforge acpi generate`),
# against the same binary doing nothing but start (`mrforge --version`), timed by hyperfine in the
# same run. The difference of the medians is the cost of generating (and writing) the blobs; the
# goal is under 10 ms. Not a test: timings depend on the machine.
#
# Usage: tests/bench/acpi_generate_256.sh [path/to/mrforge]   (default build/cli/mrforge)
# Prints the numbers and exits 1 if the goal is missed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gen=("$mrforge" acpi generate --cpus 256 --memory 64G --device virtio-blk --device virtio-net --device pcie-root-port
  -o "$work/out")
"${gen[@]}" >/dev/null || { echo "mrforge acpi generate failed" >&2; exit 2; }
printf -v gen_cmd '%q ' "${gen[@]}"
hyperfine --warmup 3 --runs 30 --export-json "$work/bench.json" \
  -n start "$mrforge --version" \
  -n generate "$gen_cmd"
python3 - "$work/bench.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base, ours = r["start"]["median"], r["generate"]["median"]
cost = (ours - base) * 1000
print(f"median: start {base*1000:.1f} ms, generate (256 CPUs) {ours*1000:.1f} ms, generation cost {cost:.1f} ms (goal < 10 ms)")
sys.exit(0 if cost < 10 else 1)
PY
