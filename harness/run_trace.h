/* run_trace.h — a traced run: LTTng sessions on the host and in every guest, one trace dir. */
#ifndef MC_RUN_TRACE_H
#define MC_RUN_TRACE_H

#include <stddef.h>

#include "cli.h"

struct mc_run_trace;

/*
 * Before the cluster starts: a private lttng-sessiond and a session recording the
 * harness's events (microcosm_harness:*) into <rundir>/trace/host, run by a keeper child
 * process (the private daemon needs its own mount namespace, which the run itself stays
 * out of). Sets MC_TRACE=1 and LTTNG_HOME in this process's environment, so the cluster's
 * controller, started next, emits into it. events: NULL-terminated UST patterns for the
 * guests (NULL = microcosm_*). flush_ms: how often partly filled buffers are handed on
 * (tracing.flush; 0 = only full ones). Returns NULL with err set.
 */
struct mc_run_trace *mc_run_trace_start(const char *rundir, const char *const *events,
                                        unsigned flush_ms, char *err, size_t errlen);

/*
 * After the cluster is up: an lttng-relayd in the cluster's network namespace writing to
 * <rundir>/trace, a streaming session in every guest (`mc-trace start`), and each guest's
 * clock offset from the host (<rundir>/trace/clock-offsets.json). Returns 0, or -1 with
 * err set (the run goes on untraced in the guests).
 */
int mc_run_trace_guests(struct mc_run_trace *t, const struct mc_common_opts *c, char *err,
                        size_t errlen);

/* The LD_PRELOAD value MPI ranks get while tracing ("" when the guests are not traced). */
const char *mc_run_trace_preload(const struct mc_run_trace *t);

/*
 * At the end (also after a failure): stops the guests' sessions (their data flushed to the
 * relay), the host session, the relay and the session daemon; aligns the guest traces'
 * clocks (tracing/align.py). Nothing is left running. Frees t.
 */
void mc_run_trace_stop(struct mc_run_trace **t, const struct mc_common_opts *c);

#endif
