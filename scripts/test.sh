#!/usr/bin/env bash
# test.sh — README command 2: the whole test suite (ctest). Sets up whatever is missing
# (packages, build, guest assets) first, so it also works alone on a fresh machine.
# MC_SANITIZE=1 runs it against an ASan+UBSan build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
build="$root/build"
[ "${MC_SANITIZE:-0}" = 1 ] && build="$root/build-asan"
"$root/scripts/build.sh" "$build"
cd "$build"
# Integration tests boot real guests: run them one at a time (2 cores), unit tests in parallel.
ctest --output-on-failure -L unit -j"$(nproc)"
ctest --output-on-failure -L integration
