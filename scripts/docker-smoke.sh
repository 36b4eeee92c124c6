#!/usr/bin/env bash
# The container image, end to end: builds deploy/Dockerfile, runs it on a new named volume as
# deploy/OPERATIONS.md ("Container") says, sends signed deliveries with send-test, and checks
# health, storage in the volume, uid and file modes, `report` and sqlite3 in the container, a
# graceful stop and a restart that keeps the data. Removes the container and volume it made.
#
# Needs a running Docker engine and the base image debian:12. Not part of scripts/test.sh
# (CI has no Docker). Where Docker Hub cannot be reached, import a base image made locally:
#   debootstrap --variant=minbase bookworm /tmp/rootfs && tar -C /tmp/rootfs -c . | docker import - debian:12
#
# Usage: scripts/docker-smoke.sh [CHURNWATCH]   a host build for send-test (default
#        build/release/churnwatch). Environment: SMOKE_PORT (default 18080).
set -euo pipefail
cd "$(dirname "$0")/.."

cw=${1:-build/release/churnwatch}
port=${SMOKE_PORT:-18080}
tag=churnwatch:smoke
name=churnwatch-smoke-$$
vol=churnwatch-smoke-$$
secret=shjk_smoke_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
passed=0
failed=0

check() {  # what command…
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "ok   $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi
}
cleanup() {
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker volume rm "$vol" >/dev/null 2>&1 || true
}
trap cleanup EXIT

[ -x "$cw" ] || { echo "no churnwatch at $cw (build it, or pass its path)" >&2; exit 2; }
mkdir -p build
start=$SECONDS
docker build -f deploy/Dockerfile -t "$tag" \
    --build-arg BUILD_COMMIT="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" . \
    >build/docker-smoke-build.log 2>&1 || { echo "docker build failed: build/docker-smoke-build.log" >&2; exit 1; }
echo "built $tag in $((SECONDS - start)) s, $(docker image inspect -f '{{.Size}}' "$tag") bytes"

docker run -d --name "$name" -p "127.0.0.1:$port:8080" --stop-timeout 30 \
    -e CHURNWATCH_SECRETS="$secret" -v "$vol:/var/lib/churnwatch" "$tag" >/dev/null

status() { docker inspect -f '{{.State.Health.Status}}' "$name"; }
ready() { curl -fsS --max-time 2 "http://127.0.0.1:$port/readyz"; }
wait_for() {  # seconds command…
    local n=$1
    shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    return 1
}
healthy() { [ "$(status)" = healthy ]; }
in_db() { docker exec "$name" sqlite3 churnwatch.db "SELECT count(*) FROM deliveries"; }

check "/readyz answers" wait_for 20 ready
check "health status becomes healthy (first probe after 30 s)" wait_for 60 healthy
for topic in subscription/created charge/paid subscription/cancelled; do
    check "send-test $topic answered 2xx" "$cw" send-test --url "http://127.0.0.1:$port" \
        --secret "$secret" --topic "$topic"
done
check "the 3 deliveries are in the volume" test "$(in_db)" = 3
check "serve runs as uid 10001" test "$(docker exec "$name" awk '/^Uid:/ {print $2}' /proc/1/status)" = 10001
check "database files are 0640" test "$(docker exec "$name" sh -c 'stat -c %a churnwatch.db*' | sort -u)" = 640
check "churnwatch report in the container" docker exec "$name" churnwatch report
check "docker stop drains: exit 0" sh -c "docker stop '$name' && test \"\$(docker inspect -f '{{.State.ExitCode}}' '$name')\" = 0"
check "log says stopped" sh -c "docker logs '$name' 2>&1 | grep -q '\"event\":\"stopped\"'"
check "every stderr line is JSON" sh -c "! docker logs '$name' 2>&1 >/dev/null | grep -v '^{\"ts\":'"
check "the secret is not logged" sh -c "! docker logs '$name' 2>&1 | grep -qF '$secret'"
docker start "$name" >/dev/null
check "restarted, /readyz answers" wait_for 20 ready
check "the deliveries survived the restart" test "$(in_db)" = 3

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
