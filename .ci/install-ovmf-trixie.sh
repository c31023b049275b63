#!/usr/bin/env bash
# OVMF 2025.02 from Debian trixie (edk2-stable202502; an arch-all package, so trixie's build runs
# on bookworm), unpacked privately beside bookworm's ovmf 2022.11, which the bundled guest recipe
# locks: the firmware of the OVMF variant debian-trixie-2025.02. Its unified 4 MiB OVMF.fd (with
# TDX metadata) is PREFIX/usr/share/ovmf/OVMF.fd; the tests find it through MRFORGE_OVMF_TRIXIE_PREFIX
# (default below).
#
#   .ci/install-ovmf-trixie.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")"
version='2025.02-8+deb13u1'
prefix=${1:-${MRFORGE_OVMF_TRIXIE_PREFIX:-/opt/mrforge-ovmf-2025.02}}
./private-debs.sh "$prefix" 'deb http://deb.debian.org/debian trixie main' "ovmf=$version"
sha256sum "$prefix/usr/share/ovmf/OVMF.fd"
