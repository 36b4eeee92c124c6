#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz (clang, ASan+UBSan, build/fuzz) and runs each for
# SECONDS (default 20). scripts/test.sh runs this short version; run it longer by hand.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      targets: signature payload http_request
#        scripts/fuzz.sh --build-only [TARGET...]   builds them, runs nothing
#
# Each target starts from the committed seeds (tests/fuzz/corpus/<target>, never written to)
# plus its working corpus build/fuzz/corpus/<target>, which keeps what earlier runs found.
# A crash, leak, timeout or UBSan report stops the target; the input is saved under
# build/fuzz/artifacts/<target>/ and the script exits non-zero. Reproduce it with
#   build/fuzz/fuzz_<target> build/fuzz/artifacts/<target>/crash-…
# then copy it to tests/fuzz/regressions/<target>/ (replayed by every scripts/test.sh run).
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
if [ "${1:-}" = --build-only ]; then
  build_only=1
  shift
else
  seconds=${1:-20}
  [ $# -gt 0 ] && shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(signature payload http_request)

scripts/bootstrap.sh clang libclang-rt-14-dev
build=build/fuzz
jobs=$(nproc)
# Ninja, as scripts/test.sh; a directory configured with make before starts afresh.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$build/CMakeCache.txt"; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCHURNWATCH_TESTS=OFF -DCHURNWATCH_FUZZ=ON >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"
[ "$build_only" -eq 1 ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log="$build/fuzz-$t.log"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  echo "== fuzz $t: ${seconds}s (log $log)"
  rc=0
  "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
      "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  inputs=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ]; then
    line="fuzz $t: ok, ${execs:-?} execs in ${seconds}s, cov ${cov:-?}, ft ${ft:-?}, corpus ${inputs:-?}"
  else
    failed=$((failed + 1))
    line="fuzz $t: FAILED (exit $rc) after ${execs:-?} execs — see $log and $artifacts/"
    grep -E 'ERROR|runtime error|property violated|Test unit written' "$log" | head -5 >&2 || true
  fi
  echo "$line"
  summary+=("$line")
done
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $(( failed > 0 ))
