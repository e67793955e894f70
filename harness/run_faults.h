/* run_faults.h — a run's fault plan in action: injections at their planned times, events,
 * the faults.jsonl record, detection of the failures they cause. */
#ifndef MC_RUN_FAULTS_H
#define MC_RUN_FAULTS_H

#include <jansson.h>

#include "cli.h"
#include "faultplan.h"

struct mc_run_faults;

/*
 * A plan runner for cluster c writing <rundir>/faults.jsonl. Borrows s (which
 * must outlive it). Returns NULL on allocation failure.
 */
struct mc_run_faults *mc_run_faults_new(const struct mc_common_opts *c,
                                        const struct mc_fault_sched *s, const char *rundir);

/* fn(ctx, guest) is asked before a failure (crash, reboot) is injected into guest: a reason
 * string means its work has moved away and the failure strikes nothing (recorded with
 * outcome "avoided"), NULL means inject. */
void mc_run_faults_set_vacated(struct mc_run_faults *f,
                               const char *(*fn)(void *ctx, const char *guest), void *ctx);

/* Workload wi starts now; its output goes to rep_dir/stdout.jsonl (output events). */
void mc_run_faults_begin(struct mc_run_faults *f, unsigned wi, const char *rep_dir);

/* Injects what is due (called often while the workload runs). */
void mc_run_faults_pump(struct mc_run_faults *f);

/* The workload ended: what was planned but not reached is recorded as not injected. */
void mc_run_faults_end(struct mc_run_faults *f);

/*
 * After the last workload, before teardown: records when each injected failure was
 * detected (and failures nobody injected), and returns the counts for summary.json
 * (caller owns): planned, injected, failed, not_injected, detected, undetected,
 * detection_latency_ms {median, max}, injection_delay_ms {median, max}.
 */
json_t *mc_run_faults_finish(struct mc_run_faults *f);

void mc_run_faults_free(struct mc_run_faults **f);

#endif
