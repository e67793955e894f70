#!/usr/bin/env bash
# build.sh — builds microcosm (CMake) and the guest assets (kernel, initramfs, base image).
# Usage: scripts/build.sh [BUILD_DIR]   (default: build/; MC_SANITIZE=1 for ASan+UBSan)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
san=OFF
[ "${MC_SANITIZE:-0}" = 1 ] && san=ON
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMC_SANITIZE="$san" >/dev/null
cmake --build "$build" -j"$(nproc)"
# The agent inside guests is always the plain (non-sanitized) build.
agent="$build/guests/agent/mc-agent"
if [ "$san" = ON ]; then
	cmake -S "$root" -B "$build-agent" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build-agent" -j"$(nproc)" --target mc-agent
	agent="$build-agent/guests/agent/mc-agent"
fi
# The workloads (installed in the guests' base disk) are built without sanitizers
# in every build (workloads/CMakeLists.txt).
payload=()
[ -d "$build/workloads/bin" ] && payload=(--payload "$build/workloads/bin")
"$root/guests/build-assets.sh" ${payload[@]+"${payload[@]}"} "$agent"
