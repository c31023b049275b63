#!/usr/bin/env bash
# Benchmark: generating QEMU's three ACPI blobs for 256 and 4096 CPUs (qemu-9.2-tdx, 64 GiB, a disk,
# a NIC and a GPU behind a root port). Goals: under 10 ms for 256 CPUs, under 50 ms for 4096 (the
# most a q35 machine takes since QEMU 9.0). Two measurements per size, each with a baseline taken
# in the same run:
#  1. in process (the build's acpi_generate_bench, tests/bench/acpi_generate_bench.cpp): the median
#     of 101 generations, against SHA-384 over the same three blobs;
#  2. the whole `mrforge acpi generate` command (profile loading, generation, the decoded
#     tables.txt listing, writing five files) against `mrforge --version` (process start), by
#     hyperfine.
# Not a test: timings depend on the machine (ctest only runs the program once, asserting nothing).
#
# Usage: tests/bench/acpi_generate.sh [BUILD_DIR]   (default build; builds acpi_generate_bench there)
# Exits 1 if an in-process median misses its goal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
mrforge=$build/cli/mrforge
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
cmake --build "$build" --target acpi_generate_bench mrforge >/dev/null
bench=$build/tests/acpi_generate_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for spec in 256:10 4096:50; do
  cpus=${spec%:*} goal=${spec#*:}
  read -r gen_ms hash_ms _ < <("$bench" "$cpus" 2>/dev/null)
  args=("$mrforge" acpi generate --profile qemu-9.2-tdx --cpus "$cpus" --memory 64G --device virtio-blk
    --device virtio-net --device pcie-root-port:gpu -o "$work/out")
  "${args[@]}" >/dev/null || { echo "mrforge acpi generate failed" >&2; exit 2; }
  printf -v gen_cmd '%q ' "${args[@]}"
  hyperfine --warmup 3 --runs 30 --export-json "$work/bench.json" -n start "$mrforge --version" \
    -n generate "$gen_cmd" >/dev/null
  python3 - "$work/bench.json" "$cpus" "$goal" "$gen_ms" "$hash_ms" <<'PY' || status=1
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
cpus, goal, gen, hash_ = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
start, cmd = r["start"]["median"] * 1000, r["generate"]["median"] * 1000
print(f"{cpus} CPUs in process: generate {gen:.2f} ms, SHA-384 of the blobs {hash_:.2f} ms, ratio {gen / hash_:.1f} (goal: generate < {goal:g} ms)")
print(f"{cpus} CPUs command: mrforge --version {start:.1f} ms, mrforge acpi generate {cmd:.1f} ms, difference {cmd - start:.1f} ms")
sys.exit(0 if gen < goal else 1)
PY
done
exit $status
