/* run_policy.h — a fault-tolerance policy carried out in a real run: health warnings from the
 * predictor become degrade faults, the policy reads them back from the controller's event
 * stream and its migrations move guests to new QEMUs, so the failures planned for the nodes
 * they left strike nothing. */
#ifndef MC_RUN_POLICY_H
#define MC_RUN_POLICY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "experiment.h"
#include "faultplan.h"

struct mc_run_policy;

/*
 * The executor of e's policy section for a run of cluster c: the policy (built-in or
 * PATH.so) told what simulate would tell it (nodes = cluster.guests; work, costs from the
 * simulate section when there is one), the predictor's warnings for schedule s with the
 * fault seed. Every decision, action and warning goes to <rundir>/policy.jsonl; the
 * controller's events are read from <rundir>/events.jsonl. Returns NULL with err empty
 * when e has no policy section, NULL with err set when it cannot be set up.
 */
struct mc_run_policy *mc_run_policy_new(const struct mc_experiment *e,
                                        const struct mc_common_opts *c,
                                        const struct mc_fault_sched *s, uint64_t fault_seed,
                                        const char *rundir, char *err, size_t errlen);

/* Workload wi starts now (times of its warnings count from here); rep_dir holds its
 * stdout.jsonl, where a checkpointing workload reports its checkpoints. */
void mc_run_policy_begin(struct mc_run_policy *p, unsigned wi, const char *rep_dir);

/* The DIR to give the current workload as `--checkpoint DIR` (mc-ring's ring, unless the
 * experiment gave one itself), or NULL. */
const char *mc_run_policy_checkpoint_arg(const struct mc_run_policy *p);

/* Gives what is due: warnings (degrade faults), the controller's new events to the policy,
 * finished migrations, the policy's timer. Called often while the workload runs. */
void mc_run_policy_pump(struct mc_run_policy *p);

/* Why a failure planned for guest must not be injected (its work moved to a new QEMU before
 * it came: the node that fails is not the guest's any more), or NULL. */
const char *mc_run_policy_vacated(const struct mc_run_policy *p, const char *guest);

/* Whether a failure killed the job since its last (re)start; the guests that failed then
 * go to guests as a comma list. */
int mc_run_policy_job_failed(struct mc_run_policy *p, char *guests, size_t cap);

/* The failed guests are back and the job is launched again, from its last checkpoint when
 * it takes them, otherwise from the start. The restart lasts (restart_s) from the failure
 * until the work begins again (the workload's "start" line), or until now for a workload
 * that does not say when; then the policy hears RESUMED. */
void mc_run_policy_restarted(struct mc_run_policy *p);

/* The workload ended (ok: it succeeded, seconds: its time to solution, restarts included).
 * Returns its fault-tolerance figures for summary.json (caller owns): policy, finished,
 * time_to_solution_s, restarts, restart_s [...], warnings, false_alarms, migrations,
 * failed_migrations, failures, avoided, refused, work_lost_s, migrate_downtime_s [...],
 * migrate_total_s [...], checkpoints, checkpoint_s [...] (what each cost the work),
 * launch_s [...] (the first launch, for workloads that say when their work begins). */
json_t *mc_run_policy_end(struct mc_run_policy *p, int ok, double seconds);

void mc_run_policy_free(struct mc_run_policy **p);

#endif
