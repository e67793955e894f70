/* policy.c — the registry of policies, instances, loading a researcher's policy with dlopen. */
#include "policies/policy.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

extern const struct mc_policy_ops mc__policy_none;
extern const struct mc_policy_ops mc__policy_checkpoint_restart;
extern const struct mc_policy_ops mc__policy_proactive_migrate;

const struct mc_policy_ops *const mc_policy_builtins[] = {
        &mc__policy_none,
        &mc__policy_checkpoint_restart,
        &mc__policy_proactive_migrate,
        NULL,
};

struct mc_policy {
	const struct mc_policy_ops *ops; /* borrowed from the registry or the library */
	void *state;                     /* owned by the policy: freed by ops->fini */
	void *dl;                        /* dlopen handle of an external policy, or NULL */
	mc_policy_record_fn record;      /* where records go, or NULL */
	void *record_ctx;
	unsigned nodes; /* the job's starting nodes (for checks) */
};

const struct mc_policy_ops *mc_policy_builtin(const char *name)
{
	for (size_t i = 0; mc_policy_builtins[i]; i++)
		if (strcmp(mc_policy_builtins[i]->name, name) == 0)
			return mc_policy_builtins[i];
	return NULL;
}

int mc_policy_is_path(const char *name)
{
	size_t n = strlen(name);

	return strchr(name, '/') != NULL || (n > 3 && strcmp(name + n - 3, ".so") == 0);
}

const char *mc_policy_builtin_names(void)
{
	return "none, checkpoint-restart, proactive-migrate";
}

const char *mc_policy_event_name(enum mc_policy_event_kind k)
{
	static const char *const names[] = {"start",   "timer",        "warning", "failure",
	                                    "resumed", "checkpointed", "migrated"};

	return (unsigned)k < MC_ARRAY_SIZE(names) ? names[k] : "?";
}

const char *mc_policy_act_name(enum mc_policy_act a)
{
	static const char *const names[] = {"nothing", "checkpoint", "migrate"};

	return (unsigned)a < MC_ARRAY_SIZE(names) ? names[a] : "?";
}

/* Checks ops as found (built-in or loaded); who names it in messages. */
static int ops_ok(const struct mc_policy_ops *ops, const char *who, char *err, size_t errlen)
{
	if (ops->abi != MC_POLICY_ABI) {
		mc_errf(err, errlen,
		        "%s: policy ABI %u, microcosm expects %u (rebuild it against this "
		        "microcosm's harness/policies/policy.h)",
		        who, (unsigned)ops->abi, MC_POLICY_ABI);
		return -EPROTO;
	}
	if (ops->size < sizeof(struct mc_policy_ops)) {
		mc_errf(err, errlen,
		        "%s: policy struct of %u bytes, microcosm expects %zu (rebuild it against "
		        "harness/policies/policy.h)",
		        who, (unsigned)ops->size, sizeof(struct mc_policy_ops));
		return -EPROTO;
	}
	if (!ops->name || !ops->name[0] || !ops->init || !ops->decide) {
		mc_errf(err, errlen, "%s: policy without %s", who,
		        !ops->name || !ops->name[0] ? "a name"
		        : !ops->init                ? "init"
		                                    : "decide");
		return -EPROTO;
	}
	return 0;
}

struct mc_policy *mc_policy_new(const char *name, const struct mc_policy_env *env, char *err,
                                size_t errlen)
{
	const struct mc_policy_ops *ops = NULL;
	struct mc_policy *p;
	char why[256] = "";
	int r;

	if (!(p = calloc(1, sizeof(*p)))) {
		mc_errf(err, errlen, "policy %s: out of memory", name);
		return NULL;
	}
	p->nodes = env->nodes;
	if (mc_policy_is_path(name)) {
		const char *e;

		dlerror();
		if (!(p->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL))) {
			e = dlerror();
			mc_errf(err, errlen, "%s: cannot load: %s", name, e ? e : "unknown error");
			goto fail;
		}
		dlerror();
		ops = dlsym(p->dl, MC_POLICY_SYMBOL);
		if (!ops) {
			mc_errf(err, errlen,
			        "%s: no symbol %s (an external policy defines const struct "
			        "mc_policy_ops %s; see docs/policies.md)",
			        name, MC_POLICY_SYMBOL, MC_POLICY_SYMBOL);
			goto fail;
		}
		if (ops_ok(ops, name, err, errlen))
			goto fail;
	} else if (!(ops = mc_policy_builtin(name))) {
		mc_errf(err, errlen, "unknown policy \"%s\" (expected %s, or a PATH.so)", name,
		        mc_policy_builtin_names());
		goto fail;
	}
	p->ops = ops;
	if ((r = ops->init(env, &p->state, why, sizeof(why))) != 0) {
		mc_errf(err, errlen, "policy %s: %s", ops->name, why[0] ? why : "init failed");
		p->ops = NULL; /* no fini after a failed init */
		goto fail;
	}
	return p;
fail:
	mc_policy_destroy(&p);
	return NULL;
}

void mc_policy_destroy(struct mc_policy **pp)
{
	struct mc_policy *p;

	if (!pp || !(p = *pp))
		return;
	if (p->ops && p->ops->fini)
		p->ops->fini(p->state);
	if (p->dl)
		dlclose(p->dl);
	free(p);
	*pp = NULL;
}

const struct mc_policy_ops *mc_policy_ops_of(const struct mc_policy *p)
{
	return p->ops;
}

void mc_policy_set_recorder(struct mc_policy *p, mc_policy_record_fn fn, void *ctx)
{
	p->record = fn;
	p->record_ctx = ctx;
}

static void record(struct mc_policy *p, double now, const struct mc_policy_event *ev,
                   const struct mc_policy_action *a, const char *why)
{
	struct mc_policy_record r;

	if (!p->record)
		return;
	memset(&r, 0, sizeof(r));
	r.policy = p->ops->name;
	r.time_s = now;
	r.event = ev->kind;
	r.event_node = ev->node;
	r.action = *a;
	r.action.reason[sizeof(r.action.reason) - 1] = '\0';
	if (why) {
		r.refused = 1;
		snprintf(r.why, sizeof(r.why), "%s", why);
	}
	p->record(p->record_ctx, &r);
}

int mc_policy_decide(struct mc_policy *p, const struct mc_policy_event *ev,
                     const struct mc_policy_job *job, struct mc_policy_out *out, char *err,
                     size_t errlen)
{
	double wake = out->wake_s;
	int r;

	memset(out, 0, sizeof(*out));
	out->wake_s = wake;
	if ((r = p->ops->decide(p->state, ev, job, out)) != 0) {
		mc_errf(err, errlen, "policy %s: failed at %.3fs on %s (%d)", p->ops->name,
		        ev->now_s, mc_policy_event_name(ev->kind), r);
		out->n = 0;
		return r < 0 ? r : -EINVAL;
	}
	if (out->n > MC_POLICY_MAX_ACTIONS) {
		mc_errf(err, errlen, "policy %s: returned %u actions (at most %d)", p->ops->name,
		        out->n, MC_POLICY_MAX_ACTIONS);
		out->n = 0;
		return -EINVAL;
	}
	for (unsigned i = 0; i < out->n; i++)
		if ((unsigned)out->acts[i].act > MC_POLICY_MIGRATE) {
			mc_errf(err, errlen, "policy %s: unknown action %d", p->ops->name,
			        (int)out->acts[i].act);
			out->n = 0;
			return -EINVAL;
		}
	if (isnan(out->wake_s) || out->wake_s < 0)
		out->wake_s = -1;
	else if (out->wake_s < ev->now_s)
		out->wake_s = ev->now_s;
	for (unsigned i = 0; i < out->n; i++)
		record(p, ev->now_s, ev, &out->acts[i], NULL);
	return 0;
}

void mc_policy_refused(struct mc_policy *p, double now_s, const struct mc_policy_event *ev,
                       const struct mc_policy_action *a, const char *why)
{
	record(p, now_s, ev, a, why ? why : "refused");
}

int mc_policy_check_builtin(const char *name, const struct mc_policy_param *params, unsigned n,
                            char *err, size_t errlen)
{
	const struct mc_policy_ops *ops = mc_policy_builtin(name);
	struct mc_policy_env env = {
	        .nodes = 1,
	        .work_s = 3600,
	        .checkpoint_s = 60,
	        .restart_s = 60,
	        .migrate_s = 10,
	        .node_mtbf_s = 86400,
	        .system_mtbf_s = 86400,
	        .lead_s = 30,
	        .recall = 0.5,
	        .precision = 0.5,
	        .n_params = n,
	        .params = params,
	};
	void *state = NULL;

	if (!ops)
		return -ENOENT;
	if (ops->init(&env, &state, err, errlen))
		return -EINVAL;
	if (ops->fini)
		ops->fini(state);
	return 0;
}

/* ---- helpers ---- */

double mc_policy_young(double c, double m)
{
	if (!(c > 0) || !(m > 0))
		return 0;
	return sqrt(2 * c * m);
}

double mc_policy_daly(double c, double m)
{
	double x;

	if (!(c > 0) || !(m > 0))
		return 0;
	if (c >= 2 * m)
		return m;
	x = c / (2 * m);
	return sqrt(2 * c * m) * (1 + sqrt(x) / 3 + x / 9) - c;
}

int mc_policy_parse_interval(const char *v, double c, double m, double *out)
{
	uint64_t ms;

	if (!v)
		return -EINVAL;
	if (strcmp(v, "none") == 0) {
		*out = 0;
		return 0;
	}
	if (strcmp(v, "auto") == 0 || strcmp(v, "young") == 0) {
		*out = mc_policy_young(c, m);
		return 0;
	}
	if (strcmp(v, "daly") == 0) {
		*out = mc_policy_daly(c, m);
		return 0;
	}
	/* A unit is required, as everywhere in experiment files. */
	if (!v[0] || v[strlen(v) - 1] < 'a' || mc_parse_duration_ms(v, &ms) || ms == 0)
		return -EINVAL;
	*out = (double)ms / 1000.0;
	return 0;
}

const char *mc_policy_param_get(const struct mc_policy_env *env, const char *key)
{
	for (unsigned i = 0; i < env->n_params; i++)
		if (env->params[i].key && strcmp(env->params[i].key, key) == 0)
			return env->params[i].value;
	return NULL;
}

int mc_policy_params_only(const struct mc_policy_env *env, const char *const *allowed,
                          const char *policy, char *err, size_t errlen)
{
	for (unsigned i = 0; i < env->n_params; i++) {
		const char *k = env->params[i].key;
		char names[160];
		size_t o = 0;
		int ok = 0;

		for (size_t j = 0; allowed[j]; j++)
			ok |= strcmp(allowed[j], k) == 0;
		if (ok)
			continue;
		names[0] = '\0';
		for (size_t j = 0; allowed[j] && o < sizeof(names); j++)
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", j ? ", " : "",
			                      allowed[j]);
		if (!allowed[0])
			mc_errf(err, errlen, "%s: %s takes no parameters", k, policy);
		else
			mc_errf(err, errlen, "%s: unknown parameter (expected %s)", k, names);
		return -EINVAL;
	}
	return 0;
}
