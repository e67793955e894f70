/* checkpoint_restart.c — periodic checkpoints at a fixed or Young/Daly interval. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "policies/policy.h"

struct cr_state {
	double interval_s; /* between the end of one checkpoint (or a restart) and the next */
};

static const char *const cr_params[] = {"interval", NULL};

static int cr_init(const struct mc_policy_env *env, void **state, char *err, size_t errlen)
{
	const char *v = mc_policy_param_get(env, "interval");
	struct cr_state *s;
	double iv;
	int r;

	if ((r = mc_policy_params_only(env, cr_params, "checkpoint-restart", err, errlen)))
		return r;
	if (mc_policy_parse_interval(v ? v : "auto", env->checkpoint_s, env->system_mtbf_s, &iv)) {
		snprintf(
		        err, errlen,
		        "interval: expected a duration (10m, 90s), auto (Young), daly or none, got "
		        "\"%s\"",
		        v);
		return -EINVAL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->interval_s = iv;
	*state = s;
	return 0;
}

static int cr_decide(void *state, const struct mc_policy_event *ev, const struct mc_policy_job *job,
                     struct mc_policy_out *out)
{
	const struct cr_state *s = state;

	if (!(s->interval_s > 0))
		return 0;
	switch (ev->kind) {
	case MC_POLICY_EV_START:
	case MC_POLICY_EV_RESUMED:
	case MC_POLICY_EV_CHECKPOINTED:
		out->wake_s = ev->now_s + s->interval_s;
		break;
	case MC_POLICY_EV_FAILURE:
		out->wake_s = -1; /* re-armed when the job resumes */
		break;
	case MC_POLICY_EV_TIMER:
		if (job->restarting || job->checkpointing || job->done_s >= job->work_s)
			break;
		out->acts[0].act = MC_POLICY_CHECKPOINT;
		snprintf(out->acts[0].reason, sizeof(out->acts[0].reason), "every %.1fs of running",
		         s->interval_s);
		out->n = 1;
		/* CHECKPOINTED re-arms; this only matters if the checkpoint was refused. */
		out->wake_s = ev->now_s + s->interval_s;
		break;
	case MC_POLICY_EV_WARNING:
	case MC_POLICY_EV_MIGRATED:
		break;
	}
	return 0;
}

const struct mc_policy_ops mc__policy_checkpoint_restart = {
        .abi = MC_POLICY_ABI,
        .size = sizeof(struct mc_policy_ops),
        .name = "checkpoint-restart",
        .help = "checkpoint every interval of running; interval: DURATION | auto (Young, "
                "sqrt(2 C M)) | daly | none (default auto)",
        .init = cr_init,
        .decide = cr_decide,
        .fini = free,
};
