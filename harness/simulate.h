/* simulate.h — the discrete-event simulator of a checkpointed, migrating job under a fault plan. */
#ifndef MC_SIMULATE_H
#define MC_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "experiment.h"
#include "policies/policy.h"

/*
 * The model (docs/policies.md has it at length): one tightly coupled job needs work_s of
 * failure-free progress on all of its nodes. Progress stops while a checkpoint
 * (checkpoint_s), a restart (restart_s) or a migration (migrate_s of downtime) is under
 * way, and while the job first launches (launch_s; relaunching after a failure is part of
 * restart_s). A failure of a node that holds work sends the job back to its last checkpoint
 * (or to the start): the progress since then is lost and a restart begins (a failure during a
 * restart begins it again; a checkpoint under way is lost). A migration moves a node's work
 * to a spare (nodes N, N+1, ..., unlimited unless simulate.spares says otherwise); when it
 * completes, the vacated node's next failure costs nothing ("failure avoided"). Migrations
 * run concurrently and continue through a restart.
 *
 * Failures are the plan's entries of kind crash or reboot with a fixed time or a
 * distribution, targets resolved over the simulated nodes (mc_predict_targets()). Their
 * times come from the streams faultplan.h specifies, drawn directly rather than through
 * mc_fault_schedule() (which is capped at MC_FAULT_MAX_PLANNED injections and 65534 guests):
 * node i of entry e draws from stream(seed, e, 1 + i), so for i < cluster.guests the first
 * failure is exactly the one the real run's schedule has. Then:
 *   failures: renewal (default)  a failed node is replaced by a fresh one at once, whose
 *               next failure is t + duration + T from the same stream; horizons are
 *               ignored (the job may outlast them). A spare fails as the entries whose
 *               target includes all, from its own streams, starting fresh when it takes
 *               work (t0 + T).
 *   failures: plan   exactly the schedule's failures: at most one per node for crash
 *               (fatal), none at or after the entry's horizon.
 * Times count from the start of the job (the plan's times from the start of their
 * workload). Warnings come from harness/predict.h's model with the same seed.
 */

/* The job model, resolved (measured costs looked up). */
struct mc_sim_config {
	unsigned nodes;        /* nodes the job starts on */
	double work_s;         /* failure-free time to solution */
	double checkpoint_s;   /* one checkpoint */
	double restart_s;      /* one restart */
	double migrate_s;      /* one migration's downtime */
	double launch_s;       /* starting the job: no progress yet (a restart's relaunch is
	                          part of restart_s) */
	int spares_limited;    /* 0: unlimited */
	uint64_t spares;       /* when limited */
	int plan_failures;     /* 1: failures: plan */
	double limit_s;        /* give up (not finished) at this time */
	uint64_t max_failures; /* give up after this many failures of the job */
	uint64_t seed;         /* the fault seed */
};

#define MC_SIM_MAX_FAILURES 100000 /* default max_failures */

/* The metric names `measured` costs read from the catalog (docs/policies.md). */
#define MC_SIM_METRIC_CHECKPOINT "ft/checkpoint_s"
#define MC_SIM_METRIC_RESTART    "ft/restart_s"
#define MC_SIM_METRIC_MIGRATE    "ft/migrate_downtime_s"
#define MC_SIM_METRIC_LAUNCH     "ft/launch_s"

/* One simulated job. */
struct mc_sim_result {
	uint64_t seed;             /* the fault seed it ran with */
	int finished;              /* 0: gave up at limit_s or max_failures */
	double time_s;             /* time to solution (when it gave up, if not finished) */
	double work_lost_s;        /* progress lost to failures, s of work */
	uint64_t failures;         /* failures of nodes that held work (= restarts) */
	uint64_t checkpoints;      /* completed */
	uint64_t migrations;       /* completed */
	uint64_t false_migrations; /* started on a false alarm */
	uint64_t avoided;          /* failures of vacated nodes (work moved away in time) */
	uint64_t warnings;         /* warnings given to the policy (true and false) */
	uint64_t false_alarms;     /* of which false alarms */
	uint64_t refused;          /* actions the simulator could not carry out */
	uint64_t events;           /* events processed */
};

/*
 * Resolves e's simulate section into cfg: nodes (nodes_override when not 0, else
 * simulate.nodes, else cluster.guests), costs (measured ones from <results_root>/
 * catalog.sqlite: the median, over the runs that have it, of the metric's median), limit
 * (auto = 100 x work), seed. Returns 0; -EINVAL with "FILE: ..." or "FILE:LINE:
 * simulate.FIELD: ..." in err when there is no simulate section or a measured cost has no
 * measurement yet.
 */
int mc_sim_config_resolve(const struct mc_experiment *e, unsigned nodes_override,
                          const char *results_root, uint64_t seed, struct mc_sim_config *cfg,
                          char *err, size_t errlen);

/*
 * The median over the runs in <results_root>/catalog.sqlite of the metric whose name is
 * metric or ends in "/" + metric. Returns 0 with *value; -ENOENT when there is no catalog
 * or no such metric (err says which); -EIO.
 */
int mc_sim_measured(const char *results_root, const char *metric, double *value, char *err,
                    size_t errlen);

/*
 * Simulates one job of e under cfg with the policy called policy (a built-in or a PATH.so,
 * mc_policy_new()) and its params (borrowed, n_params entries). Every decision goes to rec
 * (may be NULL) with rec_ctx. Does no I/O but loading an external policy. Returns 0 with
 * *res filled; -EINVAL with err set (a target does not fit cfg->nodes, the policy cannot be
 * loaded or failed); -ENOMEM.
 */
int mc_sim_run(const struct mc_experiment *e, const struct mc_sim_config *cfg, const char *policy,
               const struct mc_policy_param *params, unsigned n_params, mc_policy_record_fn rec,
               void *rec_ctx, struct mc_sim_result *res, char *err, size_t errlen);

/*
 * Loads and initialises the policy as mc_sim_run() would, and frees it: checks a policy
 * and its params before a long simulation. Returns 0, or -EINVAL / -ENOMEM with err set.
 */
int mc_sim_check_policy(const struct mc_experiment *e, const struct mc_sim_config *cfg,
                        const char *policy, const struct mc_policy_param *params, unsigned n_params,
                        char *err, size_t errlen);

/* What a policy is told about a job of cfg (policy.h's env): nodes, work, costs, the node
 * and system MTBF from node_rate (failures per node per s), the predictor's quality; params
 * borrowed. */
struct mc_predict;
void mc_sim_policy_env(const struct mc_sim_config *cfg, const struct mc_predict *pred,
                       double node_rate, const struct mc_policy_param *params, unsigned n_params,
                       struct mc_policy_env *env);

/* A result as a JSON object (the fields above, times in s). NULL when out of memory. */
json_t *mc_sim_result_to_json(const struct mc_sim_result *r);

/* A policy record as a JSON object: {time_s, policy, event, event_node, action, node,
 * reason, refused, why}. NULL when out of memory. */
json_t *mc_sim_record_to_json(const struct mc_policy_record *r);

#endif
