#!/usr/bin/env bash
# Builds churnwatch (Release) and runs it on the embedded defaults: database churnwatch.db
# in the repository's top directory (the script runs from there), listening on
# 127.0.0.1:8080. Extra arguments go to `serve`, e.g. scripts/serve.sh --secret '<secret>';
# CHURNWATCH_* variables too (CHURNWATCH_SECRETS).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCHURNWATCH_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target churnwatch
exec build/release/churnwatch serve "$@"
