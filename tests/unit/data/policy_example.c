/* policy_example.c — a sample external policy (a shared library): checkpoint on every warning. */
/*
 * Build: cc -shared -fPIC -I harness -o policy_example.so tests/unit/data/policy_example.c
 * Use:   microcosm simulate FILE.yaml --policy ./policy_example.so:min_lead=10s
 *
 * It needs only harness/policies/policy.h: everything it is told is plain data. The test
 * builds it three times: as is, with POLICY_EXAMPLE_ABI=99 (an ABI mismatch) and with
 * POLICY_EXAMPLE_NO_SYMBOL (no mc_policy symbol).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/policy.h"

#ifndef POLICY_EXAMPLE_ABI
#define POLICY_EXAMPLE_ABI MC_POLICY_ABI
#endif

struct example {
	double min_lead_s; /* warnings closer than this to their failure are ignored */
	unsigned seen;     /* warnings so far */
};

static int example_init(const struct mc_policy_env *env, void **state, char *err, size_t errlen)
{
	struct example *x = calloc(1, sizeof(*x));

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	x->min_lead_s = env->checkpoint_s;
	for (unsigned i = 0; i < env->n_params; i++) {
		const struct mc_policy_param *p = &env->params[i];
		char *end;

		if (strcmp(p->key, "min_lead") == 0) {
			/* Seconds with an s, e.g. 10s. */
			x->min_lead_s = strtod(p->value, &end);
			if (end == p->value || strcmp(end, "s") != 0 || x->min_lead_s < 0) {
				snprintf(err, errlen,
				         "min_lead: expected seconds like 10s, got \"%s\"",
				         p->value);
				free(x);
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "%s: unknown parameter (expected min_lead)", p->key);
			free(x);
			return -EINVAL;
		}
	}
	*state = x;
	return 0;
}

static int example_decide(void *state, const struct mc_policy_event *ev,
                          const struct mc_policy_job *job, struct mc_policy_out *out)
{
	struct example *x = state;

	if (ev->kind != MC_POLICY_EV_WARNING)
		return 0;
	x->seen++;
	if (ev->predicted_s - ev->now_s < x->min_lead_s || job->checkpointing || job->restarting)
		return 0;
	out->acts[0].act = MC_POLICY_CHECKPOINT;
	snprintf(out->acts[0].reason, sizeof(out->acts[0].reason), "warning #%u about node %u",
	         x->seen, ev->node);
	out->n = 1;
	return 0;
}

#ifndef POLICY_EXAMPLE_NO_SYMBOL
const struct mc_policy_ops mc_policy = {
#else
const struct mc_policy_ops mc_policy_misnamed = {
#endif
        .abi = POLICY_EXAMPLE_ABI,
        .size = sizeof(struct mc_policy_ops),
        .name = "example-checkpoint-on-warning",
        .help = "checkpoint whenever a node is warned about; min_lead: seconds (10s)",
        .init = example_init,
        .decide = example_decide,
        .fini = free,
};
