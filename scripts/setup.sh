#!/usr/bin/env bash
# setup.sh — README command 1: packages, build, guest assets, then the default job:
# the demo experiment (64 guests, MPI ring and allreduce, a summary table), torn down.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build"
mc="$root/build/harness/microcosm"
# The default job is an experiment (workloads/experiments/demo.yaml): 64 guests, MPI ring
# and allreduce across them, a summary table; `microcosm run` takes the cluster down
# itself, also on Ctrl-C, and prints the results directory (under ./runs/) last.
cd "$root"
"$mc" run "${MC_DEMO_EXPERIMENT:-$root/workloads/experiments/demo.yaml}"
