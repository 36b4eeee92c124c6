#!/usr/bin/env bash
# Benchmarks (not part of the test run): builds Release and runs the ingest benchmark and the
# rebuild benchmark. Extra arguments go to bench_ingest (e.g. --seconds 10 --server-threads 2).
# Figures depend on the machine: record them with its description (nproc, CPU model).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCHURNWATCH_TESTS=OFF -DCHURNWATCH_BENCH=ON >/dev/null
cmake --build build/release -j "$(nproc)" --target churnwatch bench_ingest bench_rebuild
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
build/release/bench_ingest --bin build/release/churnwatch "$@"
build/release/bench_rebuild --bin build/release/churnwatch --deliveries "${REBUILD_DELIVERIES:-1000000}"
