#!/usr/bin/env bash
# Benchmark: `mrforge measure` on OVMF.fd + Debian's ~12 MB 6.12 kernel + a 64 MB initrd, against
# `sha384sum` over the same three files, timed by hyperfine in the same run. The goal is a ratio
# of at most 1.3. Not a test: timings depend on the machine; the ratio is what we track.
#
# Usage: tests/bench/measure_vs_sha384sum.sh [path/to/mrforge]   (default build/cli/mrforge)
# Prints the ratio and exits 1 if it is above the goal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
fw=/usr/share/ovmf/OVMF.fd
kernel=$(ls /boot/vmlinuz-6.12* | sort | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 64 MiB of incompressible, reproducible bytes: AES-CTR keystream with a fixed key.
head -c $((64 << 20)) /dev/zero | openssl enc -aes-128-ctr -nosalt -K 00000000000000000000000000000000 \
  -iv 00000000000000000000000000000000 > "$work/initrd.img"
zero=$(printf '0%.0s' $(seq 96))
measure=("$mrforge" measure --firmware "$fw" --kernel "$kernel" --initrd "$work/initrd.img" --cmdline "console=hvc0"
  --cpus 2 --memory 2G --profile qemu-9.2-tdx --digest "acpi-loader=$zero" --digest "acpi-rsdp=$zero"
  --digest "acpi-tables=$zero")
"${measure[@]}" >/dev/null 2>&1 || { echo "mrforge measure failed" >&2; "${measure[@]}"; exit 2; }
printf -v measure_cmd '%q ' "${measure[@]}"
hyperfine --warmup 3 --runs 20 --export-json "$work/bench.json" \
  -n sha384sum "sha384sum $fw $kernel $work/initrd.img" \
  -n "mrforge measure" "$measure_cmd"
python3 - "$work/bench.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base, ours = r["sha384sum"]["median"], r["mrforge measure"]["median"]
ratio = ours / base
print(f"median: sha384sum {base*1000:.1f} ms, mrforge measure {ours*1000:.1f} ms, ratio {ratio:.2f} (goal <= 1.30)")
sys.exit(0 if ratio <= 1.30 else 1)
PY
