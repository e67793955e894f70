/* faultplan.h — fault plans: target sets, the seeded RNG, and the schedule a plan generates. */
#ifndef MC_FAULTPLAN_H
#define MC_FAULTPLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "experiment.h"
#include "fault.h"

/*
 * A fault plan is the faults section of an experiment file (harness/experiment.h documents
 * its syntax; experiment.c parses it into struct mc_exp_fault). mc_fault_schedule() turns
 * it into a list of planned injections. Same seed and same file give a byte-identical
 * schedule on every host; a different seed gives a different one.
 *
 * The random numbers are specified here exactly, so that anyone can recompute a schedule:
 *
 *   mix(x)      splitmix64's output function of x + 0x9e3779b97f4a7c15:
 *                 z = x + 0x9e3779b97f4a7c15;
 *                 z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 *                 z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
 *                 return z ^ (z >> 31);            (all arithmetic modulo 2^64)
 *   next(s)     splitmix64: r = mix(s); s += 0x9e3779b97f4a7c15; return r.
 *   stream      the state of one stream: mix(mix(mix(seed) ^ entry) ^ sub), entry being the
 *               0-based index of the plan entry and sub MC_FAULT_STREAM_PICK (0) for the
 *               stream that picks random(K) and fraction(F) guests, or 1 + the guest's
 *               index for that guest's failure times. A guest's draws thus depend only on
 *               (seed, entry, guest), not on which other guests the entry targets.
 *   uniform     u = (next(s) >> 11) * 2^-53, in [0, 1).
 *   picking K   of N guests: a partial Fisher-Yates shuffle of the indices 0..N-1: for
 *               i = 0..K-1, j = i + floor(u * (N - i)), swap(i, j); the first K indices,
 *               in ascending order, are the targets.
 *   exponential T = mtbf * -log1p(-u)                  (= -mtbf * ln(1 - u)), in ms
 *   Weibull     T = scale * pow(-log1p(-u), 1 / shape), in ms
 *
 * An entry with distribution draws, for each of its target guests in ascending order,
 * from that guest's own stream: a fatal kind (kind->fatal: the guest does not come back)
 * draws one failure time t = T; a non-fatal kind draws a renewal sequence t1 = T1,
 * t2 = t1 + duration + T2, ...: the next up time starts when the previous fault is
 * reverted, so one guest's injections of one entry never overlap. Times are kept as
 * doubles and each planned time is round(t) ms (halves away from zero); drawing stops at
 * the first time that is not below the horizon. (log1p and pow come from the C library:
 * a libm whose results differ in the last bit could, very rarely, move a time by 1 ms.)
 */

#define MC_FAULT_TARGET_ITEMS 64     /* comma-separated items in a target */
#define MC_FAULT_MAX_PLANNED  100000 /* planned injections in one schedule */
#define MC_FAULT_STREAM_PICK  0      /* sub of the stream that picks random/fraction guests */

enum mc_fault_target_kind {
	MC_FT_LIST = 0, /* items: all, gNNNN, gNNNN-gMMMM, I, I-J */
	MC_FT_RANDOM,   /* random(K): K distinct guests, picked with the entry's stream */
	MC_FT_FRACTION, /* fraction(F): round(F x guests) distinct guests, picked likewise */
	MC_FT_RANK,     /* rank(R): the guest of MPI rank R, R / ppn */
};

struct mc_fault_target_item {
	unsigned lo, hi; /* inclusive guest indices */
	int all;         /* "all": lo = 0, hi = UINT_MAX until resolved */
	int names;       /* written as guest names (g0003) rather than indices */
};

/* A parsed target: its syntax is checked, its bounds only against a cluster. */
struct mc_fault_target {
	enum mc_fault_target_kind kind;
	unsigned n;                                               /* MC_FT_LIST: items */
	struct mc_fault_target_item items[MC_FAULT_TARGET_ITEMS]; /* MC_FT_LIST */
	unsigned k;      /* MC_FT_RANDOM: guests; MC_FT_RANK: the rank */
	double fraction; /* MC_FT_FRACTION: 0 < F <= 1 */
};

/*
 * Parses a target as written in a plan entry: "all", "g0003", "g0001-g0063", "5", "0-7",
 * comma-separated (spaces around items allowed), or one of "random(K)", "fraction(F)",
 * "rank(R)". Returns 0, or -EINVAL with what was expected in why ("random(K) with K an
 * integer 1..65534"). Does not know the cluster: bounds are checked by
 * mc_fault_schedule().
 */
int mc_fault_target_parse(const char *s, struct mc_fault_target *t, char *why, size_t whylen);

/* A guest name exactly as the controller writes it ("g%04u": g0003, g12345) into its
 * index. Returns 0 or -EINVAL. */
int mc_fault_guest_parse(const char *s, unsigned *index);

/*
 * The targets of plan entry i among n guests (the cluster's, or the simulator's nodes),
 * ascending and distinct, into *gv (caller frees) and *gn, picked as above with seed.
 * Returns 0; -EINVAL with why set ("random(9) needs 9 guests, ..."); -ENOMEM.
 */
int mc_fault_resolve_targets(const struct mc_experiment *e, unsigned i, unsigned n, uint64_t seed,
                             unsigned **gv, unsigned *gn, char *why, size_t whylen);

/* splitmix64: the next output of the stream at *state (advances it). */
uint64_t mc_fault_rng_next(uint64_t *state);

/* A uniform double in [0, 1) from the top 53 bits of the next output. */
double mc_fault_rng_uniform(uint64_t *state);

/* The initial state of the stream (seed, entry, sub), as specified above. */
uint64_t mc_fault_rng_stream(uint64_t seed, unsigned entry, uint64_t sub);

/*
 * One time between failures in ms (not rounded) for a distribution entry
 * (f->when == MC_EXP_DISTRIBUTION), drawn from *state.
 */
double mc_fault_draw_ms(const struct mc_exp_fault *f, uint64_t *state);

/* One planned injection. */
struct mc_fault_planned {
	unsigned entry;                     /* index into e->faults */
	char name[MC_EXP_NAME_MAX + 1];     /* the entry's name */
	const struct mc_fault_kind *kind;   /* borrowed from mc_fault_kinds */
	unsigned workload_index;            /* index into e->workloads */
	char workload[MC_EXP_NAME_MAX + 1]; /* the workload's name */
	int triggered;                      /* 0: at_ms from the workload's start;
	                                       1: at_ms after the event below */
	enum mc_exp_event event;            /* triggered */
	char match[MC_EXP_MATCH_MAX + 1];   /* triggered by output: the substring */
	char guest[16];                     /* triggered by heartbeat: "g0003" */
	unsigned count;                     /* triggered by heartbeat: the count-th one */
	uint64_t at_ms;                     /* time from the start, or delay after the event */
	uint64_t duration_ms;               /* until reverted; 0 = not reverted */
	unsigned n_guests;                  /* names in guests, >= 1 */
	unsigned first_guest;               /* index of the first name in guests */
	char *guests;                       /* owned; "g0003,g0010", ascending */
	unsigned n_params;                  /* entries in params */
	struct mc_exp_param params[MC_FAULT_MAX_PARAMS]; /* as in the plan, in its order */
};

/* A schedule: embed it, fill it with mc_fault_schedule(), free with mc_fault_sched_fini(). */
struct mc_fault_sched {
	size_t n;                       /* entries in items */
	struct mc_fault_planned *items; /* owned; sorted by (workload_index, at_ms, entry,
	                                   first_guest); NULL when n = 0 */
};

/* The seed of e's fault plan: faults.seed when given, else e->seed (which the run sets
 * when the file says seed: auto). */
uint64_t mc_fault_seed(const struct mc_experiment *e);

/*
 * Plans every injection of e's fault plan with seed (normally mc_fault_seed(e)), checking
 * targets against the cluster (e->cluster.guests) and ranks against their workload.
 * Fills *out, which need not be initialised; the caller frees it with
 * mc_fault_sched_fini(), also after a failure. Does no I/O. Returns 0; -EINVAL with
 * "FILE:LINE: faults.plan[I].FIELD: what is wrong" in err when an entry does not fit the
 * cluster ("g0099 is outside the cluster (64 guests: g0000-g0063)") or the plan comes to
 * more than MC_FAULT_MAX_PLANNED injections; -ENOMEM.
 */
int mc_fault_schedule(const struct mc_experiment *e, uint64_t seed, struct mc_fault_sched *out,
                      char *err, size_t errlen);

/* Frees what s owns and empties it. Accepts NULL and an emptied or zeroed s. */
void mc_fault_sched_fini(struct mc_fault_sched *s);

/*
 * The schedule as a JSON array in its order, one object per injection: entry, name, kind,
 * workload, at_ms (fixed time) or after {event, match | guest + count, delay_ms},
 * duration_ms, guests [names], params {key: value}. Returns NULL when out of memory.
 * Caller owns the result; free with json_decref().
 */
json_t *mc_fault_sched_to_json(const struct mc_fault_sched *s);

/* Writes the schedule to fp as a table for people: workload, time, kind, duration, guests
 * (long lists shortened), params and name; "no faults planned" when empty. */
void mc_fault_sched_print(const struct mc_fault_sched *s, FILE *fp);

#endif
