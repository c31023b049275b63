#!/usr/bin/env bash
# Benchmark: `mrforge measure` on OVMF.fd + Debian's ~12 MB 6.12 kernel + a 64 MB initrd, against
# `openssl dgst -sha384` over the same three files (the same SHA-384 code, one pass, one thread),
# timed by hyperfine in the same run; `sha384sum` over them is a second reference figure and
# `mrforge --version` shows what start-up alone (mostly the dynamic loader) costs. The goal is a
# ratio of at most 1.0 against openssl: mrforge hashes the initrd, the kernel and the firmware on
# separate threads, reading each byte once, so its start-up and the MRTD's extra blocks have to fit
# in the time openssl spends on the kernel and the firmware after the initrd. Not a test: timings
# depend on the machine and its load; the ratio is what we track.
#
# Usage: tests/bench/measure_vs_openssl.sh [path/to/mrforge]   (default build/cli/mrforge)
# Prints the figures and exits 1 if the ratio is above the goal.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mrforge=${1:-$root/build/cli/mrforge}
goal=1.0
for tool in hyperfine openssl sha384sum python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool (hyperfine: apt-get install hyperfine)" >&2; exit 2; }
done
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
hyperfine --warmup 3 --runs 30 --export-json "$work/bench.json" \
  -n "openssl dgst -sha384" "openssl dgst -sha384 $fw $kernel $work/initrd.img" \
  -n sha384sum "sha384sum $fw $kernel $work/initrd.img" \
  -n "mrforge measure" "$measure_cmd" \
  -n "mrforge --version" "$(printf '%q' "$mrforge") --version"
python3 - "$work/bench.json" "$goal" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
goal = float(sys.argv[2])
base, ref, ours, start = (r[n]["median"] for n in ("openssl dgst -sha384", "sha384sum", "mrforge measure",
                                                    "mrforge --version"))
ratio = ours / base
print(f"median: openssl dgst -sha384 {base*1000:.1f} ms, sha384sum {ref*1000:.1f} ms, "
      f"mrforge measure {ours*1000:.1f} ms (start-up alone, mrforge --version: {start*1000:.1f} ms)")
print(f"ratio mrforge/openssl {ratio:.2f} (goal <= {goal:.2f}), mrforge/sha384sum {ours/ref:.2f}")
sys.exit(0 if ratio <= goal else 1)
PY
