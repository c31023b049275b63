#!/usr/bin/env bash
# QEMU 10.0 from Debian bookworm-backports (built for bookworm), unpacked privately beside the
# system's QEMU 7.2, which the qemu-7.2-q35 fixtures need: qemu-system-x86, -common and -data at
# one exact version. Run it as `PREFIX/usr/bin/qemu-system-x86_64 -L PREFIX/usr/share/qemu`; the
# capture tests find it through MRFORGE_QEMU10_PREFIX (default below).
#
#   .ci/install-qemu-10.0.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")"
version='1:10.0.2+ds-2+deb13u1~bpo12+1'
prefix=${1:-${MRFORGE_QEMU10_PREFIX:-/opt/mrforge-qemu-10.0}}
./private-debs.sh "$prefix" 'deb http://deb.debian.org/debian bookworm-backports main' \
  "qemu-system-x86=$version" "qemu-system-common=$version" "qemu-system-data=$version"
"$prefix/usr/bin/qemu-system-x86_64" -L "$prefix/usr/share/qemu" --version
