#!/usr/bin/env bash
# The main job until the image builder lands: measure Debian's OVMF.fd and signed 6.12 kernel with
# a tiny initrd built here, as a 2-vCPU, 2-GiB TD on a QEMU 8.2 TDX host (dstack's "lite" shape).
#
# Usage: examples/measure-debian.sh [extra mrforge measure options, e.g. --json or --events]
# Writes build/example/initrd.img. Needs: a built mrforge (build/cli/mrforge or $MRFORGE), Debian's ovmf and linux-image-6.12-amd64.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mrforge=${MRFORGE:-$root/build/cli/mrforge}
kernel=$(ls /boot/vmlinuz-6.12* 2>/dev/null | sort | tail -n 1 || true)
[ -n "$kernel" ] || { echo "no /boot/vmlinuz-6.12*: apt-get install linux-image-6.12-amd64" >&2; exit 2; }
[ -f /usr/share/ovmf/OVMF.fd ] || { echo "no /usr/share/ovmf/OVMF.fd: apt-get install ovmf" >&2; exit 2; }

# A tiny, reproducible initrd: one /init script, fixed mtimes, sorted names, newc format.
work=$root/build/example
rm -rf "$work"
mkdir -p "$work/root"
printf '#!/bin/sh\necho hello from a measured initrd\n' > "$work/root/init"
chmod 0755 "$work/root/init"
(cd "$work/root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
  xargs -0 touch -h -d @0 && find . -mindepth 1 | LC_ALL=C sort |
  cpio --quiet -o -H newc --reproducible -R 0:0) > "$work/initrd.img"

# The ACPI blobs are a property of the host's QEMU and the VM shape. These three digests are the
# "ACPI DATA" events of a real dstack TD with this exact shape (QEMU 8.2.2, 2 vCPU, 2 GiB;
# ../shared/vectors/dstack/tdx-lite-getquote.json). With blobs from your own host, use
# --acpi-tables DIR instead.
exec "$mrforge" measure \
  --firmware /usr/share/ovmf/OVMF.fd --kernel "$kernel" --initrd "$work/initrd.img" \
  --cmdline "console=ttyS0 root=/dev/vda ro" --cpus 2 --memory 2G --profile qemu-8.2-tdx \
  --digest acpi-loader=095d04cf26fe03aef6e3561fa24c1aa1cea93f4aeaf563b1f9f7616184c53454875925759434769cec2490acb563a337 \
  --digest acpi-rsdp=8d9a4d4777a1bc77ecd9d8d37a4628129a80052a510320159a20a923bd07a0e90d8d1f2e1ebf088992b25f0d0fa672ef \
  --digest acpi-tables=3070721e169bc41884724cb0e6b3082e1baf249083d8b389181ba50b9afa951057876c380b8870e8c2facf2eff67a2b6 \
  "$@"
