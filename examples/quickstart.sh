#!/usr/bin/env bash
# First run on a fresh Debian bookworm machine: install the build and runtime packages, build
# mrforge into build/, and run the main job (examples/measure-debian.sh) on the bundled example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $(cat "$root/.ci/packages.txt")
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build" -j"$(nproc)"
"$root/examples/measure-debian.sh" "$@"
