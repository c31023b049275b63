#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan+UBSan and runs each for a fixed time, seeded
# with its committed corpus (tests/fuzz/corpus/<target>) and, for the event-log, quote and
# attestation-input parsers, with every file of ../shared/vectors, and with tests/fuzz/<target>.dict
# when there is one. Exits non-zero on the first crash, leaving the crashing
# input in the work directory it prints. CI runs it with a short time per target.
#
# Usage: tests/fuzz/run_fuzzers.sh [SECONDS_PER_TARGET]   (default 30; BUILD_DIR default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}
build=${BUILD_DIR:-$root/build-fuzz}
targets=(firmware pe tcg_log quote attestation dstack_measurement acpi vm_shape dstack_app deb822 deb envelope bundle)
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMRFORGE_FUZZ=ON -DMRFORGE_SANITIZE=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
work=$(mktemp -d /tmp/mrforge-fuzz-XXXXXX)
vectors=$root/../shared/vectors
for t in "${targets[@]}"; do
  corpus=$work/$t
  mkdir -p "$corpus"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/"
  if [ "$t" = tcg_log ] || [ "$t" = quote ] || [ "$t" = attestation ]; then
    [ -d "$vectors" ] || { echo "$vectors is missing: the fuzzers are seeded with the vectors" >&2; exit 2; }
    find "$vectors" -type f | while read -r f; do cp "$f" "$corpus/vector-$(echo "${f#$vectors/}" | tr / _)"; done
  fi
  # A dictionary of the target's tokens (tests/fuzz/dict/<target>.dict), where there is one.
  dict=()
  [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
  echo "fuzz_$t: ${seconds}s, seeds: $(ls "$corpus" | wc -l)${dict:+, dictionary dict/$t.dict}"
  (cd "$work" && "$build/tests/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -print_final_stats=0 "${dict[@]}" \
    "$corpus" >"$work/fuzz_$t.log" 2>&1) ||
    { tail -n 40 "$work/fuzz_$t.log"; echo "fuzz_$t found a crash (inputs in $work)" >&2; exit 1; }
  grep -E '^Done [0-9]+ runs' "$work/fuzz_$t.log" || true
done
rm -rf "$work"
