#!/usr/bin/env bash
# Installs the Debian 12 packages churnwatch builds and tests with, when any is missing.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config libboost1.81-dev rapidjson-dev
          libsqlite3-dev sqlite3 libssl-dev openssl libgtest-dev
          git      # the build records its commit (churnwatch_build_info, the started line)
          tzdata   # report-timezone's zones (the tests use a few)
          systemd) # systemd-analyze verify checks deploy/churnwatch.service
# Extra tools some test suites use; pass them as arguments (e.g. clang for fuzzing).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "bootstrap: not root and sudo is not installed; as root, run:" >&2
    echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
