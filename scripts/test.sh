#!/usr/bin/env bash
# The whole test suite (.ci/run calls it). Installs dependencies, then runs three stages:
#   asan  every test (unit, integration, fuzz-corpus replays) built with ASan+UBSan, build/asan
#   tsan  the server and its load tests (crash safety, concurrency) built with TSan, build/tsan;
#         the process under test is the TSan-built server
#   fuzz  each libFuzzer target for a short while (scripts/fuzz.sh), build/fuzz
# Sanitizer findings are fatal. The last line is "N passed, M failed" over all stages; the
# exit status is non-zero when anything failed (or did not build).
#
# Usage: scripts/test.sh [extra ctest args, e.g. -R Ingest: then only the asan stage runs]
# Environment: CHURNWATCH_TEST_STAGES="asan tsan fuzz" (the default without arguments) picks
#              stages; CHURNWATCH_FUZZ_SECONDS per fuzz target (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -gt 0 ]; then stages=${CHURNWATCH_TEST_STAGES:-asan}; else stages=${CHURNWATCH_TEST_STAGES:-asan tsan fuzz}; fi
scripts/bootstrap.sh clang libclang-rt-14-dev
jobs=$(nproc)
# Sanitizer builds at -O1 with assertions on: fast enough to run, quick to compile. The test
# code itself and the two Beast translation units at -O0 (2-3 times faster to compile; nothing
# in them is hot). -g1: line tables, enough for every sanitizer report's file:line stacks,
# ~25% less compile time than -g. Ninja: unlike make, it compiles the tests while the
# libraries they link are still being built.
common=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
        -DCHURNWATCH_TEST_CXX_FLAGS=-O0 -DCHURNWATCH_BEAST_CXX_FLAGS=-O0)

# A build directory configured with another generator (make, before) cannot be reused.
fresh_if_not_ninja() {  # build dir
    if [ -f "$1/CMakeCache.txt" ] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$1/CMakeCache.txt"; then
        echo "$1 was configured with another generator: starting it afresh" >&2
        rm -rf "$1"
    fi
}

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

passed=0
failed=0
summary=()

# Adds a ctest run's "…% tests passed, F tests failed out of T" to the totals.
count_ctest() {  # name log seconds
    local line total fails
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$2" | tail -1 || true)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        summary+=("$1: no ctest summary (see $2)")
        return
    fi
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - fails))
    failed=$((failed + fails))
    summary+=("$(printf '%-5s %s (%ss)' "$1:" "$line" "$3")")
}

build_failed() {  # name
    failed=$((failed + 1))
    summary+=("$(printf '%-5s %s' "$1:" "BUILD FAILED")")
}

tsan_targets=(churnwatch it_crash_safety it_concurrency)
build_tsan() {
    fresh_if_not_ninja build/tsan
    cmake -S . -B build/tsan "${common[@]}" -DCHURNWATCH_SANITIZE=thread >/dev/null &&
        cmake --build build/tsan -j "$jobs" --target "${tsan_targets[@]}"
}

# The later stages' builds start while the asan stage's tests run: those leave about a third
# of the cores idle (they wait on servers, sockets and timers). At SCHED_IDLE the build only
# gets what the tests leave: a test that needs a core has it at once. Each stage builds again when
# its turn comes: that finishes what is left, and shows any build failure in its place.
prebuild_pid=""
prebuild_later_stages() {
    local later=() s
    for s in $stages; do
        case $s in tsan|fuzz) later+=("$s") ;; esac
    done
    [ ${#later[@]} -gt 0 ] && command -v chrt >/dev/null || return 0
    set -m  # its own process group, which stop_prebuild ends with everything it started
    (
        chrt --idle -p 0 "$BASHPID" >/dev/null || exit 0
        for s in "${later[@]}"; do
            case $s in
                tsan) build_tsan || true ;;
                fuzz) scripts/fuzz.sh --build-only || true ;;
            esac
        done
    ) >build/prebuild.log 2>&1 &
    prebuild_pid=$!
    set +m
}
stop_prebuild() {
    [ -n "$prebuild_pid" ] && kill -- "-$prebuild_pid" 2>/dev/null || true
}
trap stop_prebuild EXIT

stage_asan() {
    local build=build/asan start=$SECONDS
    echo "== asan: ASan+UBSan build of everything, all tests ($build)"
    fresh_if_not_ninja "$build"
    cmake -S . -B "$build" "${common[@]}" -DCHURNWATCH_SANITIZE=address,undefined >/dev/null &&
        cmake --build "$build" -j "$jobs" || { build_failed asan; return; }
    prebuild_later_stages
    (cd "$build" && ctest --output-on-failure -j "$jobs" "$@") 2>&1 | tee "$build/ctest.log" || true
    count_ctest asan "$build/ctest.log" $((SECONDS - start))
    if [ -n "$prebuild_pid" ]; then
        wait "$prebuild_pid" || true
        prebuild_pid=""
        echo "(the later stages' builds ran beside these tests: build/prebuild.log)"
    fi
}

stage_tsan() {
    local build=build/tsan start=$SECONDS
    echo "== tsan: TSan build of the server and its load tests ($build)"
    build_tsan || { build_failed tsan; return; }
    # TSan (GCC 12 / LLVM 14 runtimes) needs its fixed memory layout: on kernels with more ASLR
    # entropy (vm.mmap_rnd_bits = 32) it aborts with "unexpected memory mapping". Then ASLR is
    # turned off for the test process tree (setarch -R; inherited by the servers it starts).
    local prefix=()
    if ! "$build/churnwatch" version >/dev/null 2>&1; then
        prefix=(setarch "$(uname -m)" -R)
        echo "tsan: running with ASLR disabled (setarch -R)"
    fi
    (cd "$build" && "${prefix[@]}" ctest --output-on-failure -j "$jobs" \
        -R '^(CrashSafety|Concurrency)\.') 2>&1 | tee "$build/ctest.log" || true
    count_ctest tsan "$build/ctest.log" $((SECONDS - start))
}

stage_fuzz() {
    local start=$SECONDS log=build/fuzz-smoke.log rc=0
    mkdir -p build
    echo "== fuzz: libFuzzer smoke run (scripts/fuzz.sh)"
    scripts/fuzz.sh "${CHURNWATCH_FUZZ_SECONDS:-20}" 2>&1 | tee "$log" || rc=$?
    local ok bad
    ok=$(sed -n '/^== fuzz summary/,$p' "$log" | grep -cE '^fuzz [a-z_]+: ok' || true)
    bad=$(sed -n '/^== fuzz summary/,$p' "$log" | grep -cE '^fuzz [a-z_]+: FAILED' || true)
    if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        build_failed fuzz
        return
    fi
    passed=$((passed + ok))
    failed=$((failed + bad))
    summary+=("$(printf '%-5s %s' "fuzz:" "$ok targets without a finding, $bad with one, ${CHURNWATCH_FUZZ_SECONDS:-20}s each ($((SECONDS - start))s)")")
}

start=$SECONDS
for s in $stages; do
    case $s in
        asan) stage_asan "$@" ;;
        tsan) stage_tsan ;;
        fuzz) stage_fuzz ;;
        *) echo "unknown stage '$s' (asan, tsan, fuzz)" >&2; exit 2 ;;
    esac
done

echo "== summary ($((SECONDS - start))s)"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
