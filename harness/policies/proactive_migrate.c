/* proactive_migrate.c — vacate warned nodes by live migration; optional periodic checkpoints. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/policy.h"

struct pm_state {
	double interval_s; /* periodic checkpoints; 0 = none */
	double min_signal; /* warnings below it are ignored */
	int fallback;      /* 1: checkpoint when a migration cannot finish in time */
	double migrate_s;  /* the migration's downtime, from env */
	double ckpt_s;     /* the checkpoint's cost, from env */
};

static const char *const pm_params[] = {"interval", "min_signal", "fallback", NULL};

static int pm_init(const struct mc_policy_env *env, void **state, char *err, size_t errlen)
{
	const char *iv = mc_policy_param_get(env, "interval");
	const char *ms = mc_policy_param_get(env, "min_signal");
	const char *fb = mc_policy_param_get(env, "fallback");
	struct pm_state *s;
	double m = 0, sig = 0, interval;
	char *end;
	int r;

	if ((r = mc_policy_params_only(env, pm_params, "proactive-migrate", err, errlen)))
		return r;
	/* Young/Daly against the failures the predictor misses: M / (1 - recall). */
	if (env->system_mtbf_s > 0 && env->recall < 1)
		m = env->system_mtbf_s / (1 - (env->lead_s > 0 ? env->recall : 0));
	if (mc_policy_parse_interval(iv ? iv : "none", env->checkpoint_s, m, &interval)) {
		snprintf(
		        err, errlen,
		        "interval: expected a duration (10m, 90s), auto (Young against unpredicted "
		        "failures), daly or none, got \"%s\"",
		        iv);
		return -EINVAL;
	}
	if (ms) {
		sig = strtod(ms, &end);
		if (!ms[0] || *end || !(sig >= 0 && sig <= 1)) {
			snprintf(err, errlen, "min_signal: expected a number 0..1, got \"%s\"", ms);
			return -EINVAL;
		}
	}
	if (fb && strcmp(fb, "checkpoint") && strcmp(fb, "none")) {
		snprintf(err, errlen, "fallback: expected checkpoint or none, got \"%s\"", fb);
		return -EINVAL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->interval_s = interval;
	s->min_signal = sig;
	s->fallback = !fb || strcmp(fb, "checkpoint") == 0;
	s->migrate_s = env->migrate_s;
	s->ckpt_s = env->checkpoint_s;
	*state = s;
	return 0;
}

static void act(struct mc_policy_out *out, enum mc_policy_act a, unsigned node, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static void act(struct mc_policy_out *out, enum mc_policy_act a, unsigned node, const char *fmt,
                ...)
{
	struct mc_policy_action *p = &out->acts[out->n++];
	va_list ap;

	p->act = a;
	p->node = node;
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
	va_end(ap);
}

static void on_warning(const struct pm_state *s, const struct mc_policy_event *ev,
                       const struct mc_policy_job *job, struct mc_policy_out *out)
{
	double left = ev->predicted_s - ev->now_s;

	if (ev->signal < s->min_signal) {
		act(out, MC_POLICY_NOTHING, ev->node, "signal %.2f below min_signal %.2f",
		    ev->signal, s->min_signal);
		return;
	}
	if (left > s->migrate_s && job->spares_left > 0) {
		act(out, MC_POLICY_MIGRATE, ev->node, "warned %.1fs ahead > %.1fs migration", left,
		    s->migrate_s);
		return;
	}
	if (s->fallback && left > s->ckpt_s && !job->checkpointing && !job->restarting &&
	    job->done_s > job->saved_s) {
		if (job->spares_left)
			act(out, MC_POLICY_CHECKPOINT, ev->node,
			    "warned %.1fs ahead, too late to migrate (%.1fs)", left, s->migrate_s);
		else
			act(out, MC_POLICY_CHECKPOINT, ev->node,
			    "warned %.1fs ahead, no spares left to migrate to", left);
		return;
	}
	act(out, MC_POLICY_NOTHING, ev->node, "warned %.1fs ahead, too late to act (%.1fs)", left,
	    fmin(s->migrate_s, s->ckpt_s));
}

static int pm_decide(void *state, const struct mc_policy_event *ev, const struct mc_policy_job *job,
                     struct mc_policy_out *out)
{
	const struct pm_state *s = state;
	int periodic = s->interval_s > 0;

	switch (ev->kind) {
	case MC_POLICY_EV_START:
	case MC_POLICY_EV_RESUMED:
	case MC_POLICY_EV_CHECKPOINTED:
		if (periodic)
			out->wake_s = ev->now_s + s->interval_s;
		break;
	case MC_POLICY_EV_FAILURE:
		out->wake_s = -1;
		break;
	case MC_POLICY_EV_TIMER:
		if (!periodic || job->restarting || job->checkpointing ||
		    job->done_s >= job->work_s)
			break;
		act(out, MC_POLICY_CHECKPOINT, 0, "every %.1fs of running", s->interval_s);
		out->wake_s = ev->now_s + s->interval_s;
		break;
	case MC_POLICY_EV_WARNING:
		on_warning(s, ev, job, out);
		break;
	case MC_POLICY_EV_MIGRATED:
		break;
	}
	return 0;
}

const struct mc_policy_ops mc__policy_proactive_migrate = {
        .abi = MC_POLICY_ABI,
        .size = sizeof(struct mc_policy_ops),
        .name = "proactive-migrate",
        .help = "migrate a warned node's work to a spare when the warning leaves time for it, "
                "else checkpoint; interval: none | auto | daly | DURATION (periodic "
                "checkpoints, default none), min_signal: 0..1, fallback: checkpoint | none",
        .init = pm_init,
        .decide = pm_decide,
        .fini = free,
};
