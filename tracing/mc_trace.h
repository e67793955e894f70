/* mc_trace.h — optional LTTng tracing for the harness, without linking lttng-ust. */
#ifndef MC_TRACE_H
#define MC_TRACE_H

#include <stdint.h>

/*
 * The harness never links lttng-ust: its constructor would cost every CLI call
 * time even when nobody traces. The events of provider microcosm_harness
 * (tracing/mc_tp_harness.h) live in libmc-tp-harness.so, which mc_trace_open()
 * loads with dlopen() only when tracing is asked for. Until then, and when
 * loading failed, every mc_trace_<event>() is a cheap no-op.
 *
 * Call order: mc_trace_open() once early in main() (before threads that emit
 * events exist is simplest, but any order is safe), then mc_trace_<event>()
 * from any thread. Open after daemonizing: lttng-ust's threads do not survive
 * a fork() without exec, so a forked child emits nothing unless it opens
 * first (fork + exec, as for QEMU, is fine). The library stays loaded until
 * the process exits (dlclose() of an lttng-ust provider is not safe).
 *
 * Process-wide, not per controller: LTTng itself is per process.
 */

/* Loads the provider if the environment asks for it: MC_TRACE=1. The library
 * is $MC_TRACE_PROVIDER, or else the libmc-tp-harness.so of this build tree
 * (an absolute path compiled in). Prints nothing.
 * Returns 0 when tracing is on, or was not asked for (mc_trace_enabled() tells
 * which); -ENOENT when the library cannot be loaded (missing, or lttng-ust not
 * installed); -ENOSYS when it lacks one of the event functions. Calling again
 * after a success returns 0 and does nothing. */
int mc_trace_open(void);

/* Loads the provider whatever MC_TRACE says. path is borrowed; NULL means
 * $MC_TRACE_PROVIDER or the compiled-in default. Returns as mc_trace_open(). */
int mc_trace_open_path(const char *path);

/* 1 when the provider is loaded (events reach LTTng if a session enables
 * them), 0 otherwise. */
int mc_trace_enabled(void);

/*
 * One function per microcosm_harness event. Strings are borrowed for the call;
 * NULL is recorded as "(null)". No-ops when the provider is not loaded.
 */

/* A guest changed state: "booting", "ready", "busy", "paused", "stopping",
 * "stopped" or "failed"; reason says why ("" when there is nothing to add). */
void mc_trace_guest_state(const char *guest, const char *state, const char *reason);

/* The guest's agent started command exec_id; argv0 is its program. */
void mc_trace_agent_exec(const char *guest, uint32_t exec_id, const char *argv0);

/* Command exec_id ended with exit status (-1 if killed) or signal (0 if none);
 * recorded as fields "status" and "signal". */
void mc_trace_agent_exit(const char *guest, uint32_t exec_id, int32_t status, int32_t sig);

/* A plan scheduled fault name of kind on guests, planned_ms after the run's start. */
void mc_trace_fault_planned(const char *name, const char *kind, const char *guests,
                            int64_t planned_ms);

/* Fault name was injected into guest with outcome ("ok" or what failed),
 * delay_ms later than planned. */
void mc_trace_fault_injected(const char *name, const char *kind, const char *guest,
                             const char *outcome, int64_t delay_ms);

/* The harness detected fault in guest latency_ms after its injection. */
void mc_trace_fault_detected(const char *guest, const char *fault, int64_t latency_ms);

#endif
