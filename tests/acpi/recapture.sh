#!/bin/sh
# Re-captures the live ACPI fixtures tests/data/acpi/<profile>/<shape>/ with the QEMU each profile
# describes, and says whether the blobs changed:
#   qemu-7.2-q35   the system's QEMU 7.2 (Debian bookworm's qemu-system-x86_64 in /usr/bin)
#   qemu-10.0-q35  bookworm-backports' QEMU 10.0.2, unpacked privately by .ci/install-qemu-10.0.sh
#                  into $MRFORGE_QEMU10_PREFIX (default /opt/mrforge-qemu-10.0), run with
#                  --qemu PREFIX/usr/bin/qemu-system-x86_64 --qemu-data PREFIX/usr/share/qemu
#   qemu-10.0-q35-ovmf-2025.02  the same QEMU with trixie's OVMF 2025.02 (.ci/install-ovmf-trixie.sh
#                  into $MRFORGE_OVMF_TRIXIE_PREFIX, default /opt/mrforge-ovmf-2025.02):
#                  --firmware PREFIX/usr/share/ovmf/OVMF.fd
# For each fixture directory DIR it runs
#   mrforge acpi capture --shape DIR/shape.yaml [--qemu ... --qemu-data ...] -o SCRATCH
# and copies SCRATCH/table-loader, rsdp, tables and shape.yaml back into DIR (the fixtures keep
# only those, plus capture-args). A fixture may hold a file `capture-args` with extra options for
# that capture, one line: both c64-m2g have "--timeout 1800" (64 vCPUs under TCG took 650 s with
# QEMU 7.2 on a busy 2-core host, 183 s with QEMU 10.0, while the guest kernel still started every
# vCPU; 13 s with QEMU 10.0 since it boots with maxcpus=1), and so has qemu-10.0-q35/c288-m2g
# (288 vCPUs, x2APIC from vCPU 255 on: 75 s with QEMU 10.0); qemu-7.2-q35/c2-m4g-hole64-16t-nic1 boots
# Debian's 6.1 kernel (6.12 panics under QEMU 7.2's TCG with RAM moved to 1 TiB, not under QEMU
# 10.0's; the guest kernel does not change the blobs: same bytes with 6.1 and 6.12 on
# c2-m2g-nic2-disk1).
#
# usage: tests/acpi/recapture.sh [--qemu-version 7.2|10.0] path/to/mrforge [fixture-dir...]
#   (default: every fixture of every profile folder under tests/data/acpi/, or of the one QEMU
#   version given (10.0: both of its folders); "decode" holds the decoder's samples, not captures)
# Needs OVMF (/usr/share/OVMF/OVMF_CODE.fd), busybox-static, a /boot/vmlinuz-* whose qemu_fw_cfg
# module is installed, and the QEMUs above. About 15 s per small shape under TCG.
# Exit status: 0 all captured, 1 usage, 2 some capture failed.
set -u

usage() {
  echo "usage: $0 [--qemu-version 7.2|10.0] path/to/mrforge [fixture-dir...]" >&2
  exit 1
}

only=
if [ "${1:-}" = "--qemu-version" ]; then
  [ $# -ge 2 ] || usage
  case $2 in
  7.2 | 10.0) only=$2 ;;
  *) usage ;;
  esac
  shift 2
fi
if [ $# -lt 1 ] || [ ! -x "$1" ]; then usage; fi
mrforge=$1
shift
data=$(cd "$(dirname "$0")/../data/acpi" && pwd) || exit 1
if [ $# -eq 0 ]; then
  for version in 7.2 10.0; do
    if [ -z "$only" ] || [ "$only" = "$version" ]; then
      for folder in "$data/qemu-$version-q35" "$data/qemu-$version-q35-ovmf-2025.02"; do
        if [ -d "$folder" ]; then set -- "$@" "$folder"/*/; fi
      done
    fi
  done
fi
qemu10=${MRFORGE_QEMU10_PREFIX:-/opt/mrforge-qemu-10.0}
ovmf25=${MRFORGE_OVMF_TRIXIE_PREFIX:-/opt/mrforge-ovmf-2025.02}

sums() { (cd "$1" && sha256sum table-loader rsdp tables 2>/dev/null); }

scratch=$(mktemp -d) || exit 2
trap 'rm -rf "$scratch"' EXIT

failed=0
for dir in "$@"; do
  dir=${dir%/}
  name=$(basename "$(dirname "$dir")")/$(basename "$dir")
  if [ ! -f "$dir/shape.yaml" ]; then
    echo "$dir: no shape.yaml" >&2
    failed=1
    continue
  fi
  # The profile folder says which QEMU captured the fixture.
  case $(basename "$(dirname "$dir")") in
  qemu-7.2-q35) qemu= ;;
  qemu-10.0-q35 | qemu-10.0-q35-ovmf-2025.02)
    if [ ! -x "$qemu10/usr/bin/qemu-system-x86_64" ]; then
      echo "$name: no QEMU 10.0 at $qemu10 (MRFORGE_QEMU10_PREFIX); run .ci/install-qemu-10.0.sh" >&2
      failed=1
      continue
    fi
    qemu="--qemu $qemu10/usr/bin/qemu-system-x86_64 --qemu-data $qemu10/usr/share/qemu"
    if [ "$(basename "$(dirname "$dir")")" = qemu-10.0-q35-ovmf-2025.02 ]; then
      if [ ! -f "$ovmf25/usr/share/ovmf/OVMF.fd" ]; then
        echo "$name: no OVMF 2025.02 at $ovmf25 (MRFORGE_OVMF_TRIXIE_PREFIX); run .ci/install-ovmf-trixie.sh" >&2
        failed=1
        continue
      fi
      qemu="$qemu --firmware $ovmf25/usr/share/ovmf/OVMF.fd"
    fi
    ;;
  *)
    echo "$dir: not in a profile folder this script knows (qemu-7.2-q35, qemu-10.0-q35, qemu-10.0-q35-ovmf-2025.02)" >&2
    failed=1
    continue
    ;;
  esac
  extra=
  if [ -f "$dir/capture-args" ]; then extra=$(cat "$dir/capture-args"); fi
  before=$(sums "$dir")
  echo "== $name $extra" >&2
  rm -rf "$scratch/out"
  # $qemu and $extra are split into words on purpose.
  # shellcheck disable=SC2086
  if ! "$mrforge" acpi capture --shape "$dir/shape.yaml" $qemu $extra -o "$scratch/out" >/dev/null; then
    echo "$name: capture FAILED" >&2
    failed=1
    continue
  fi
  for f in table-loader rsdp tables shape.yaml; do cp "$scratch/out/$f" "$dir/$f" || failed=1; done
  if [ "$before" = "$(sums "$dir")" ]; then
    echo "$name: unchanged"
  else
    echo "$name: CHANGED"
  fi
done
[ $failed -eq 0 ] || exit 2
