#!/usr/bin/env bash
# it_signal.sh — SIGTERM to the controller tears the cluster down and leaves nothing behind.
. "$(dirname "$0")/lib.sh"

up 2
pid=$(cat "$MC_STATE_DIR/$MC_CLUSTER/controller.pid")
[ -n "$(cluster_pids)" ] || fail "no qemu processes while up"
log "SIGTERM controller $pid"
kill -TERM "$pid"
for _ in $(seq 1 150); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.2
done
kill -0 "$pid" 2>/dev/null && fail "controller still running 30 s after SIGTERM"
leftovers || fail "SIGTERM left things behind"
log "ok"
