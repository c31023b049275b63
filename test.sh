#!/usr/bin/env bash
# Builds mrforge and runs the whole test suite (ctest). Options by environment:
#   MRFORGE_WERROR=ON    warnings are errors (CI)
#   MRFORGE_SANITIZE=ON  ASan + UBSan build (CI)
#   BUILD_DIR=dir        build directory (default build-test)
set -euo pipefail
cd "$(dirname "$0")"
build=${BUILD_DIR:-build-test}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMRFORGE_WERROR="${MRFORGE_WERROR:-OFF}" -DMRFORGE_SANITIZE="${MRFORGE_SANITIZE:-OFF}"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
