#!/usr/bin/env bash
# Builds the libFuzzer targets with clang under ASan+UBSan and runs each for a fixed time, seeded
# with its committed corpus (tests/fuzz/corpus/<target>) and, for the event-log, quote and
# attestation-input parsers, with every file of ../shared/vectors, and with tests/fuzz/<target>.dict
# when there is one. The targets run as many at a time as there are cores (FUZZ_JOBS overrides):
# each libFuzzer process is single-threaded, so on CI's 2 cores this halves the phase without
# giving any target less time. After a crash no further target starts; the ones running finish,
# every crashing target is named with its log tail, the crashing inputs (fuzz_<target>-crash-*)
# are left in the work directory it prints, and the script exits non-zero. CI runs it with a short
# time per target.
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
jobs=${FUZZ_JOBS:-$(nproc)}
[ -d "$vectors" ] || { echo "$vectors is missing: the fuzzers are seeded with the vectors" >&2; exit 2; }

# Starts fuzz_$1 in the background; its log is $work/fuzz_$1.log, its crashing inputs
# $work/fuzz_$1-crash-* (a prefix per target: the targets share the work directory).
start_target() {
  local t=$1 corpus=$work/$1 dict=()
  mkdir -p "$corpus"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/"
  if [ "$t" = tcg_log ] || [ "$t" = quote ] || [ "$t" = attestation ]; then
    find "$vectors" -type f | while read -r f; do cp "$f" "$corpus/vector-$(echo "${f#$vectors/}" | tr / _)"; done
  fi
  # A dictionary of the target's tokens (tests/fuzz/dict/<target>.dict), where there is one.
  [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
  echo "fuzz_$t: ${seconds}s, seeds: $(ls "$corpus" | wc -l)${dict:+, dictionary dict/$t.dict}"
  (cd "$work" && exec "$build/tests/fuzz_$t" -max_total_time="$seconds" -max_len=65536 -print_final_stats=0 \
    -artifact_prefix="$work/fuzz_$t-" "${dict[@]}" "$corpus" >"$work/fuzz_$t.log" 2>&1) &
  running[$!]=$t
}

# Waits for one running target and reports it; records a crash in $crashed.
finish_target() {
  local pid status=0
  wait -n -p pid "${!running[@]}" || status=$?
  local t=${running[$pid]}
  unset "running[$pid]"
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$work/fuzz_$t.log"
    echo "fuzz_$t found a crash (exit $status; log $work/fuzz_$t.log, inputs in $work)" >&2
    crashed+=("fuzz_$t")
  else
    grep -E '^Done [0-9]+ runs' "$work/fuzz_$t.log" | sed "s/^/fuzz_$t: /" || true
  fi
}

declare -A running=()
crashed=()
for t in "${targets[@]}"; do
  [ "${#running[@]}" -lt "$jobs" ] || finish_target
  [ "${#crashed[@]}" -eq 0 ] || break
  start_target "$t"
done
while [ "${#running[@]}" -gt 0 ]; do finish_target; done
if [ "${#crashed[@]}" -ne 0 ]; then
  echo "crashed: ${crashed[*]} (inputs in $work)" >&2
  exit 1
fi
rm -rf "$work"
