#!/usr/bin/env bash
# First run on a fresh Debian bookworm machine: install the build and runtime packages, build
# mrforge into build/, then run the main job on the bundled recipe: build the reproducible TDX
# guest image recipes/debian-bookworm-tdx.yaml into build/guest and print its measurements.
#
# Usage: examples/quickstart.sh [extra `mrforge build` options, e.g. --json]
# The image build needs root (the root file system has files owned by other users); packages
# come from deb.debian.org, the kernel package from apt's cache when it is there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $(cat "$root/.ci/packages.txt")
# A second QEMU (10.0 from bookworm-backports) unpacked into /opt/mrforge-qemu-10.0, beside the
# system's 7.2 and without installing it: the test suite's QEMU 10.0 ACPI captures use it.
$SUDO "$root/.ci/install-qemu-10.0.sh" >/dev/null
# Debian trixie's OVMF 2025.02, unpacked the same way into /opt/mrforge-ovmf-2025.02: the test
# suite boots it under a vTPM (OVMF variant debian-trixie-2025.02).
$SUDO "$root/.ci/install-ovmf-trixie.sh" >/dev/null
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build" -j"$(nproc)"
$SUDO "$root/build/cli/mrforge" build "$root/recipes/debian-bookworm-tdx.yaml" -o "$root/build/guest" \
  --frozen --debs /var/cache/apt/archives "$@"
