#!/usr/bin/env bash
# Benchmark: generating QEMU's three ACPI blobs for a 256-CPU shape (qemu-9.2-tdx, 64 GiB, a disk, a
# NIC and a GPU behind a root port). Goal: under 10 ms. Two measurements, each with a baseline
# taken in the same run:
#  1. in process (tests/bench/acpi_generate_bench.cpp, compiled here against BUILD's libraries):
#     the median of 101 generations, against SHA-384 over the same three blobs;
#  2. the whole `mrforge acpi generate` command (profile loading, generation, the decoded
#     tables.txt listing, writing five files) against `mrforge --version` (process start), by
#     hyperfine.
# Not a test: timings depend on the machine.
#
# Usage: tests/bench/acpi_generate_256.sh [BUILD_DIR]   (default build)
# Exits 1 if the in-process median misses the goal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
mrforge=$build/cli/mrforge
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
c++ -O2 -std=c++17 -I"$root" "$root/tests/bench/acpi_generate_bench.cpp" "$build/measure/libmrforge_profile_yaml.a" \
  "$build/measure/libmrforge_measure.a" -lyaml-cpp -lcrypto -o "$work/bench"
read -r gen_ms hash_ms _ < <("$work/bench")
args=("$mrforge" acpi generate --profile qemu-9.2-tdx --cpus 256 --memory 64G --device virtio-blk --device virtio-net
  --device pcie-root-port:gpu -o "$work/out")
"${args[@]}" >/dev/null || { echo "mrforge acpi generate failed" >&2; exit 2; }
printf -v gen_cmd '%q ' "${args[@]}"
hyperfine --warmup 3 --runs 30 --export-json "$work/bench.json" -n start "$mrforge --version" -n generate "$gen_cmd" \
  >/dev/null
python3 - "$work/bench.json" "$gen_ms" "$hash_ms" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
gen, hash_ = float(sys.argv[2]), float(sys.argv[3])
start, cmd = r["start"]["median"] * 1000, r["generate"]["median"] * 1000
print(f"in process: generate {gen:.2f} ms, SHA-384 of the blobs {hash_:.2f} ms, ratio {gen / hash_:.1f} (goal: generate < 10 ms)")
print(f"command: mrforge --version {start:.1f} ms, mrforge acpi generate {cmd:.1f} ms, difference {cmd - start:.1f} ms")
sys.exit(0 if gen < 10 else 1)
PY
