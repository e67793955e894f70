#!/usr/bin/env bash
# setup.sh — README command 1: packages, build, guest assets, then the default job:
# 8 guests up, one command on all of them, a per-guest table, everything torn down.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build"
mc="$root/build/harness/microcosm"
cluster="setup-$$"
trap '"$mc" down -c "$cluster" >/dev/null 2>&1 || true' EXIT INT TERM
"$mc" up -c "$cluster" -n "${MC_DEMO_GUESTS:-8}"
"$mc" exec -c "$cluster" --table --timeout 60s all -- sh -c 'echo "$(hostname) $(uname -r) up $(cut -d" " -f1 /proc/uptime)s"'
"$mc" down -c "$cluster"
trap - EXIT INT TERM
