#!/bin/sh
# Re-captures the live ACPI fixtures of QEMU 7.2 q35 (tests/data/acpi/qemu-7.2-q35/<shape>/) from
# the local QEMU: for each fixture directory, boots its shape.yaml with
#   mrforge acpi capture --shape DIR/shape.yaml -o DIR
# (which rewrites DIR/table-loader, DIR/rsdp, DIR/tables and DIR/shape.yaml) and says whether the
# blobs changed. A fixture may hold a file `capture-args` with extra options for that capture, one
# line: c64-m2g has "--timeout 1800" (64 vCPUs under TCG took 650 s on a busy 2-core host);
# c2-m4g-hole64-16t-nic1 boots Debian's 6.1 kernel (6.12 panics under TCG with RAM moved to 1 TiB;
# the guest kernel does not change the blobs: same bytes with 6.1 and 6.12 on c2-m2g-nic2-disk1).
#
# usage: tests/acpi/recapture.sh path/to/mrforge [fixture-dir...]
#   (default: every directory under tests/data/acpi/qemu-7.2-q35/)
# Needs qemu-system-x86_64 (7.2), OVMF (/usr/share/OVMF/OVMF_CODE.fd), busybox-static and a
# /boot/vmlinuz-* whose qemu_fw_cfg module is installed. About 15 s per small shape under TCG.
# Exit status: 0 all captured, 1 usage, 2 some capture failed.
set -u

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/mrforge [fixture-dir...]" >&2
  exit 1
fi
mrforge=$1
shift
if [ $# -eq 0 ]; then
  root=$(cd "$(dirname "$0")/../data/acpi/qemu-7.2-q35" && pwd) || exit 1
  set -- "$root"/*/
fi

sums() { (cd "$1" && sha256sum table-loader rsdp tables 2>/dev/null); }

failed=0
for dir in "$@"; do
  dir=${dir%/}
  if [ ! -f "$dir/shape.yaml" ]; then
    echo "$dir: no shape.yaml" >&2
    failed=1
    continue
  fi
  extra=
  if [ -f "$dir/capture-args" ]; then extra=$(cat "$dir/capture-args"); fi
  before=$(sums "$dir")
  echo "== $(basename "$dir") $extra" >&2
  # $extra is split into words on purpose.
  # shellcheck disable=SC2086
  if ! "$mrforge" acpi capture --shape "$dir/shape.yaml" $extra -o "$dir" >/dev/null; then
    echo "$(basename "$dir"): capture FAILED" >&2
    failed=1
    continue
  fi
  if [ "$before" = "$(sums "$dir")" ]; then
    echo "$(basename "$dir"): unchanged"
  else
    echo "$(basename "$dir"): CHANGED"
  fi
done
[ $failed -eq 0 ] || exit 2
