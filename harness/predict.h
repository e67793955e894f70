/* predict.h — the failure-prediction model: seeded health warnings ahead of the plan's failures. */
#ifndef MC_PREDICT_H
#define MC_PREDICT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "experiment.h"
#include "faultplan.h"

/*
 * The prediction section of an experiment (experiment.h) says how good a failure predictor
 * is: lead (warning to failure), recall (share of failures warned about) and precision
 * (share of warnings that are followed by a failure). The model turns the plan's failures
 * into warnings, drawn from splitmix64 streams of the fault seed exactly as faultplan.h
 * specifies them (mix, next, uniform, stream(seed, entry, sub)), with entries beyond the
 * plan's (a plan has at most 256):
 *
 *   failures    the entries of kind crash or reboot (mc_predict_is_failure()).
 *   recall      stream(seed, MC_PREDICT_RECALL_ENTRY + e, 1 + node) for plan entry e and
 *               node (guest index): one uniform u per failure of that entry on that node,
 *               in time order; the failure is warned about when u < recall.
 *   warning     a warned failure at time t gets a warning at max(birth, t - lead), birth
 *               being when the failing node came up: 0, or the node's previous failure of
 *               the same entry plus the entry's duration (renewals), or when a spare took
 *               work in the simulator. The warning predicts t.
 *   alarms      false alarms: per node, a Poisson process of rate
 *                 a = recall x (1 - precision) / precision x f,
 *               f being the expected failures per node per second, so that the expected
 *               false alarms are (1 - precision) / precision x the expected warned failures:
 *               the expected precision is precision. In the simulator (renewal: failures go
 *               on at a steady rate) f is mc_predict_node_rate(): the sum over failure
 *               entries with a distribution of targets / MTBF, divided by the nodes. For a
 *               real run (mc_predict_schedule()) f is, per workload, the expected failures
 *               of its plan within its window [0, W) divided by guests x W: fixed-time
 *               entries count their targets, a fatal distribution entry targets x F(H)
 *               (its CDF at its horizon), a renewing one targets x H / (mean + duration);
 *               W is the largest horizon (or fixed time + 1 ms) of its failure entries, and
 *               alarms fall in [0, W). The node's alarm times
 *               are t1 = D1, t2 = t1 + D2, ... with D = -log1p(-u) / a, u from
 *               stream(seed, MC_PREDICT_ALARM_ENTRY, 1 + node); each is round(t) ms, and
 *               predicts a failure at t + lead that does not come. Alarms do not look at
 *               the node's health: one may, rarely, land just before a real failure.
 *   signal      every warning carries signal = precision: the predictor cannot tell its
 *               true warnings from its false ones.
 *
 * Mean time between failures of an entry: mtbf for exponential; scale x Gamma(1 + 1/shape)
 * for Weibull (tgamma from the C library). Entries with at or after have no rate.
 */

#define MC_PREDICT_RECALL_ENTRY 0x10000u /* + plan entry: entries of the recall streams */
#define MC_PREDICT_ALARM_ENTRY  0x20000u /* the entry of the false-alarm streams */

/* The model, ready to draw. */
struct mc_predict {
	int on;            /* a predictor exists (the file has a prediction section) */
	double lead_s;     /* warning to failure, s */
	double recall;     /* 0..1 */
	double precision;  /* (0, 1] */
	double alarm_rate; /* false alarms per node per s; 0 = none */
	uint64_t seed;     /* the fault seed */
};

/* Whether a fault kind is a failure the job loses its work to: crash and reboot. */
int mc_predict_is_failure(const struct mc_fault_kind *k);

/* Mean time between failures of a distribution entry in s; 0 for at/after entries. */
double mc_predict_entry_mtbf_s(const struct mc_exp_fault *f);

/*
 * Resolves the target of plan entry i of e over n nodes (n may exceed 65534: the simulator's
 * node counts), exactly as mc_fault_schedule() does for n = cluster.guests: lists, all,
 * random(K) and fraction(F) with the same Fisher-Yates draws from the entry's PICK stream,
 * rank(R) as R / ppn. Fills *idx (caller frees with free(); ascending, distinct) and *count.
 * Returns 0; -EINVAL with "FILE:LINE: faults.plan[I].target: ..." in err when the target
 * does not fit n nodes; -ENOMEM.
 */
int mc_predict_targets(const struct mc_experiment *e, unsigned i, unsigned n, uint64_t seed,
                       unsigned **idx, unsigned *count, char *err, size_t errlen);

/*
 * The mean failure rate of one node in failures per s, over n nodes: the sum over failure
 * entries with a distribution of (their targets over n) / (their MTBF), divided by n.
 * Returns 0 when the plan has none (or -errno with err set when a target does not fit).
 */
int mc_predict_node_rate(const struct mc_experiment *e, unsigned n, uint64_t seed, double *rate,
                         char *err, size_t errlen);

/* Sets up p from e->prediction (p->on = 0 without one) with the fault seed and the node
 * failure rate f (failures per node per s). */
void mc_predict_init(struct mc_predict *p, const struct mc_experiment *e, uint64_t seed,
                     double node_rate);

/* The recall stream of plan entry `entry` on node. */
uint64_t mc_predict_recall_stream(const struct mc_predict *p, unsigned entry, uint64_t node);

/* Draws whether the next failure on the stream at *state is warned about (u < recall). */
int mc_predict_warned(const struct mc_predict *p, uint64_t *state);

/* The false-alarm stream of node. */
uint64_t mc_predict_alarm_stream(const struct mc_predict *p, uint64_t node);

/* The node's next false-alarm time after the previous one at *t (s, unrounded; start at 0),
 * drawn from *state; advances *t and returns round(*t) ms in s. INFINITY without alarms. */
double mc_predict_next_alarm(const struct mc_predict *p, uint64_t *state, double *t);

/* One warning of a real run's plan. */
struct mc_predict_warning {
	unsigned workload_index; /* into e->workloads: times count from its start */
	uint64_t at_ms;          /* when the warning is given */
	uint64_t predicted_ms;   /* the failure time it predicts */
	unsigned guest;          /* the guest warned about */
	int false_alarm;         /* 1: no failure follows */
	unsigned entry;          /* the plan entry of the failure; UINT32_MAX for false alarms */
};

/* Warnings: embed, fill with mc_predict_schedule(), free with mc_predict_list_fini(). */
struct mc_predict_list {
	size_t n;                         /* entries in items */
	struct mc_predict_warning *items; /* owned; sorted by (workload, at_ms, guest) */
};

/*
 * The warnings for a real run: for each failure of schedule s (items of a failure kind at a
 * fixed time; triggered items are not predicted) and each false alarm of each guest over
 * each workload's window (see "alarms" above). Does no I/O. Fills *out
 * (need not be initialised; fini it also after a failure). Returns 0 (an empty list without
 * a prediction section), -ENOMEM, or -EINVAL with err set.
 */
int mc_predict_schedule(const struct mc_experiment *e, const struct mc_fault_sched *s,
                        uint64_t seed, struct mc_predict_list *out, char *err, size_t errlen);

/* Frees what l owns and empties it. Accepts NULL. */
void mc_predict_list_fini(struct mc_predict_list *l);

/* The list as a JSON array of {workload, at_ms, predicted_ms, guest, false_alarm}. Caller
 * owns the result; free with json_decref(). NULL when out of memory. */
json_t *mc_predict_list_to_json(const struct mc_experiment *e, const struct mc_predict_list *l);

#endif
