/* inject.h — carrying out one fault on a running cluster, and the record it leaves. */
#ifndef MC_INJECT_H
#define MC_INJECT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "fault.h"

struct mc_inject_req {
	const struct mc_fault_kind *kind;
	const char *target; /* guest set, as for exec: "all", "g0003", "g0001-g0004", "0-7" */
	int nparams;
	const char *keys[MC_FAULT_MAX_PARAMS], *vals[MC_FAULT_MAX_PARAMS];
	uint64_t duration_ms; /* 0: no revert (or none needed) */
	uint64_t seed;        /* for kinds that draw (bitflip); 0 = the tool's own */
	const char *name;     /* a plan's name for the fault (trace events); NULL = none */
};

/*
 * Checks req against the kind's table (known keys, values, required ones,
 * duration). Returns 0 or -EINVAL with a message in err naming the key.
 */
int mc_inject_check(const struct mc_inject_req *req, char *err, size_t errlen);

/*
 * Carries req out on cluster c: host kinds through the controller (its
 * "fault" request; it also reverts them when the duration is over), guest
 * kinds by running mc-fault or mc-netem in the guests through their agents
 * (reverted by a detached helper in the guest). Returns 0 and sets *records
 * to an array with one record per target guest:
 *   {"guest", "kind", "params": {...}, "duration_ms", "outcome":
 *    "injected"|"failed", "at_ms" (wall clock, ms), "error"?, "detail"?}
 * or a negative errno with the reason in err when nothing could be tried
 * (no cluster, no guest matched). Caller owns *records.
 */
int mc_inject(const struct mc_common_opts *c, const struct mc_inject_req *req, json_t **records,
              char *err, size_t errlen);

/* The network emulation settings `net` (or an experiment) applied last, KEY=VALUE
 * per line in the cluster's state dir, so a burst can add to them and restore them. */
int mc_cluster_save_network(const struct mc_common_opts *c, char *const *kv, int n);

#endif
