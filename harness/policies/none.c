/* none.c — the policy that does nothing: failures restart the job from the start. */
#include "policies/policy.h"

static const char *const none_params[] = {NULL};

static int none_init(const struct mc_policy_env *env, void **state, char *err, size_t errlen)
{
	*state = NULL;
	return mc_policy_params_only(env, none_params, "none", err, errlen);
}

static int none_decide(void *state, const struct mc_policy_event *ev,
                       const struct mc_policy_job *job, struct mc_policy_out *out)
{
	(void)state;
	(void)ev;
	(void)job;
	(void)out;
	return 0;
}

const struct mc_policy_ops mc__policy_none = {
        .abi = MC_POLICY_ABI,
        .size = sizeof(struct mc_policy_ops),
        .name = "none",
        .help = "no checkpoints, no migrations: a failure restarts the job from the start",
        .init = none_init,
        .decide = none_decide,
        .fini = NULL,
};
