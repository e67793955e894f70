/* simulate.c — the discrete-event simulator of a checkpointed, migrating job under a fault plan. */
#include "simulate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog.h"
#include "faultplan.h"
#include "predict.h"
#include "util.h"

/* ---- configuration ---- */

int mc_sim_measured(const char *root, const char *metric, double *value, char *err, size_t errlen)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	double *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0, rc;

	snprintf(path, sizeof(path), "%s/%s", root, MC_CATALOG_FILE);
	if (access(path, R_OK) != 0) {
		mc_errf(err, errlen, "%s: no catalog (no runs yet?)", path);
		return -ENOENT;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "SELECT median FROM metrics WHERE median IS NOT NULL AND "
	                       "(metric = ?1 OR substr(metric, -length(?1) - 1) = '/' || ?1)",
	                       -1, &st, NULL) != SQLITE_OK) {
		mc_errf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, metric, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			double *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[n++] = sqlite3_column_double(st, 0);
	}
	if (rc != SQLITE_DONE) {
		mc_errf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		r = -EIO;
		goto out;
	}
	if (n == 0) {
		mc_errf(err, errlen, "%s has no metric %s yet", path, metric);
		r = -ENOENT;
		goto out;
	}
	/* The median: insertion sort (few runs). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	*value = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
out:
	free(v);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}

static int resolve_cost(const struct mc_experiment *e, const char *root, const char *field,
                        const char *metric, const struct mc_exp_cost *c, double *out, char *err,
                        size_t errlen)
{
	char why[4096 + 128];
	int r;

	if (!c->measured) {
		*out = (double)c->ms / 1000.0;
		return 0;
	}
	if ((r = mc_sim_measured(root, metric, out, why, sizeof(why))) == 0)
		return 0;
	mc_errf(err, errlen,
	        "%s:%d: simulate.%s: measured, but %s (real runs with the policy record it; give "
	        "a duration until then)",
	        e->source, c->line, field, why);
	return -EINVAL;
}

int mc_sim_config_resolve(const struct mc_experiment *e, unsigned nodes_override,
                          const char *results_root, uint64_t seed, struct mc_sim_config *cfg,
                          char *err, size_t errlen)
{
	const struct mc_exp_simulate *sm = &e->simulate;
	const char *root = results_root && *results_root ? results_root : e->results_dir;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	if (!sm->set) {
		mc_errf(err, errlen,
		        "%s: no simulate section (microcosm simulate needs at least simulate.work; "
		        "see docs/policies.md)",
		        e->source);
		return -EINVAL;
	}
	cfg->nodes = nodes_override ? nodes_override : sm->nodes ? sm->nodes : e->cluster.guests;
	cfg->work_s = (double)sm->work_ms / 1000.0;
	if ((r = resolve_cost(e, root, "checkpoint_cost", MC_SIM_METRIC_CHECKPOINT, &sm->checkpoint,
	                      &cfg->checkpoint_s, err, errlen)) ||
	    (r = resolve_cost(e, root, "restart_cost", MC_SIM_METRIC_RESTART, &sm->restart,
	                      &cfg->restart_s, err, errlen)) ||
	    (r = resolve_cost(e, root, "migrate_cost", MC_SIM_METRIC_MIGRATE, &sm->migrate,
	                      &cfg->migrate_s, err, errlen)) ||
	    (r = resolve_cost(e, root, "launch_cost", MC_SIM_METRIC_LAUNCH, &sm->launch,
	                      &cfg->launch_s, err, errlen)))
		return r;
	cfg->spares_limited = sm->spares_limited;
	cfg->spares = sm->spares;
	cfg->plan_failures = sm->plan_failures;
	cfg->limit_s = sm->limit_ms ? (double)sm->limit_ms / 1000.0 : 100 * cfg->work_s;
	cfg->max_failures = MC_SIM_MAX_FAILURES;
	cfg->seed = seed;
	return 0;
}

/* ---- the event queue ---- */

#define MAX_EVENTS 200000000 /* a guard against a policy that keeps the clock still */

enum ev_type {
	/* At equal times, in this order: completions first, then failures, then warnings. */
	EV_CKPT_DONE = 0,
	EV_RESTART_DONE,
	EV_MIG_DONE,
	EV_FAIL,
	EV_WARN,
	EV_ALARM,
	EV_TIMER,
};

struct ev {
	double t;      /* when, s */
	double x;      /* EV_WARN: the predicted failure time */
	uint64_t seq;  /* insertion order: ties broken deterministically */
	uint64_t gen;  /* EV_CKPT_DONE, EV_RESTART_DONE, EV_TIMER: generation */
	unsigned node; /* EV_FAIL, EV_WARN, EV_ALARM, EV_MIG_DONE */
	unsigned aux;  /* EV_FAIL, EV_WARN: failure entry; EV_MIG_DONE: the spare */
	int type;      /* enum ev_type */
};

struct heap {
	struct ev *v;
	size_t n, cap;
	uint64_t seq;
};

static int ev_less(const struct ev *a, const struct ev *b)
{
	if (a->t != b->t)
		return a->t < b->t;
	if (a->type != b->type)
		return a->type < b->type;
	return a->seq < b->seq;
}

static int heap_push(struct heap *h, struct ev e)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 1024;
		struct ev *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	e.seq = h->seq++;
	for (i = h->n++; i > 0; i = (i - 1) / 2) {
		size_t parent = (i - 1) / 2;

		if (!ev_less(&e, &h->v[parent]))
			break;
		h->v[i] = h->v[parent];
	}
	h->v[i] = e;
	return 0;
}

static struct ev heap_pop(struct heap *h)
{
	struct ev top = h->v[0], last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && ev_less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!ev_less(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* ---- the simulation ---- */

enum role {
	ROLE_IDLE = 0, /* a spare not taken */
	ROLE_WORK,     /* holds work */
	ROLE_LEAVING,  /* holds work, being migrated away */
	ROLE_VACATED,  /* its work moved to a spare; its next failure is avoided */
	ROLE_GONE,     /* vacated and failed since: no longer followed */
};

/* One failure entry's process on one node. */
struct nproc {
	uint64_t fst; /* failure stream */
	uint64_t rst; /* recall stream */
	double t_ms;  /* failure time so far, unrounded, ms (as faultplan.c keeps it) */
	double birth; /* when the node came up, s */
	int active;   /* the entry targets this node */
};

/* One failure entry of the plan. */
struct fentry {
	unsigned entry;               /* index into e->faults */
	const struct mc_exp_fault *f; /* borrowed */
	int spares;                   /* its target includes all: spares fail by it too */
	int renew;                    /* draws after the first */
	struct nproc *p;              /* per node, cap entries */
};

struct sim {
	const struct mc_experiment *e;
	const struct mc_sim_config *cfg;
	struct mc_predict pred;
	double node_rate; /* failures per node per s (mc_predict_node_rate()) */
	struct mc_policy *pol;
	struct heap h;
	struct fentry *fe;
	unsigned nfe;
	size_t cap;               /* room per node array */
	unsigned char *role;      /* per node */
	unsigned char *mig_false; /* per node: its migration was started on a false alarm */
	uint64_t *ast;            /* per node: alarm stream */
	double *at;               /* per node: alarm time so far, s */
	unsigned next_spare;      /* index of the next spare */
	uint64_t spares_used;
	/* the job */
	double now, done, saved, last_t, last_ckpt;
	int ckpt, restarting, finished;
	int launching; /* the first launch (restarting set; RESUMED at its end) */
	unsigned nmig;
	uint64_t ckpt_gen, restart_gen, timer_gen;
	double wake; /* armed timer, -1: none */
	struct mc_sim_result *res;
	char *err;
	size_t errlen;
};

static int running(const struct sim *s)
{
	return !s->ckpt && !s->restarting && s->nmig == 0;
}

static void advance(struct sim *s, double t)
{
	if (running(s))
		s->done += t - s->last_t;
	if (s->done > s->cfg->work_s)
		s->done = s->cfg->work_s;
	s->last_t = t;
	s->now = t;
}

static int nomem(struct sim *s)
{
	mc_errf(s->err, s->errlen, "simulate: out of memory");
	return -ENOMEM;
}

/* Room for node index i in every per-node array. */
static int grow(struct sim *s, size_t need)
{
	size_t cap = s->cap, old = s->cap;

	if (need <= cap)
		return 0;
	while (cap < need)
		cap = cap * 2 + 16;
#define GROW(ptr)                                                                                  \
	do {                                                                                       \
		void *np = realloc((ptr), cap * sizeof(*(ptr)));                                   \
		if (!np)                                                                           \
			return nomem(s);                                                           \
		(ptr) = np;                                                                        \
		memset((ptr) + old, 0, (cap - old) * sizeof(*(ptr)));                              \
	} while (0)
	GROW(s->role);
	GROW(s->mig_false);
	GROW(s->ast);
	GROW(s->at);
	for (unsigned k = 0; k < s->nfe; k++)
		GROW(s->fe[k].p);
#undef GROW
	s->cap = cap;
	return 0;
}

/* Draws the next failure of entry k on node n after its current state and queues it (and
 * its warning). Nothing when the process is over. */
static int next_failure(struct sim *s, unsigned k, unsigned n, int first)
{
	struct fentry *fe = &s->fe[k];
	struct nproc *p = &fe->p[n];
	const struct mc_exp_fault *f = fe->f;
	struct ev e = {0};
	double t;

	if (!first && !fe->renew)
		return 0;
	if (f->when == MC_EXP_AT) {
		t = (double)f->at_ms / 1000.0;
	} else {
		p->t_ms += mc_fault_draw_ms(f, &p->fst);
		if (s->cfg->plan_failures && !(p->t_ms < (double)f->horizon_ms))
			return 0;
		t = (double)llround(p->t_ms) / 1000.0;
		if (s->cfg->plan_failures && t * 1000.0 >= (double)f->horizon_ms)
			return 0;
	}
	e.type = EV_FAIL;
	e.t = t;
	e.node = n;
	e.aux = k;
	if (heap_push(&s->h, e))
		return nomem(s);
	if (s->pred.on && mc_predict_warned(&s->pred, &p->rst)) {
		double w = t - s->pred.lead_s;

		e.type = EV_WARN;
		e.t = w > p->birth ? w : p->birth;
		if (e.t > t)
			e.t = t;
		e.x = t;
		if (heap_push(&s->h, e))
			return nomem(s);
	}
	return 0;
}

static int next_alarm(struct sim *s, unsigned n)
{
	double t = mc_predict_next_alarm(&s->pred, &s->ast[n], &s->at[n]);
	struct ev e = {0};

	if (isinf(t))
		return 0;
	e.type = EV_ALARM;
	e.t = t;
	e.node = n;
	e.x = t + s->pred.lead_s;
	return heap_push(&s->h, e) ? nomem(s) : 0;
}

/* Node n starts holding work at t0: its processes start (spares fresh from t0). */
static int node_start(struct sim *s, unsigned n, double t0, int spare)
{
	int r;

	s->role[n] = ROLE_WORK;
	for (unsigned k = 0; k < s->nfe; k++) {
		struct nproc *p = &s->fe[k].p[n];

		if (spare && !s->fe[k].spares)
			continue;
		if (!spare && !p->active)
			continue;
		p->active = 1;
		p->fst = mc_fault_rng_stream(s->cfg->seed, s->fe[k].entry, (uint64_t)n + 1);
		p->rst = mc_predict_recall_stream(&s->pred, s->fe[k].entry, n);
		p->t_ms = t0 * 1000.0;
		p->birth = t0;
		if ((r = next_failure(s, k, n, 1)))
			return r;
	}
	if (s->pred.on) {
		s->ast[n] = mc_predict_alarm_stream(&s->pred, n);
		s->at[n] = t0;
		if ((r = next_alarm(s, n)))
			return r;
	}
	return 0;
}

static void job_view(const struct sim *s, struct mc_policy_job *j)
{
	memset(j, 0, sizeof(*j));
	j->now_s = s->now;
	j->work_s = s->cfg->work_s;
	j->done_s = s->done;
	j->saved_s = s->saved;
	j->last_checkpoint_s = s->last_ckpt;
	j->nodes = s->cfg->nodes;
	j->spares_left = s->cfg->spares_limited ? s->cfg->spares - s->spares_used : UINT64_MAX;
	j->checkpointing = s->ckpt;
	j->restarting = s->restarting;
	j->migrating = s->nmig;
}

static int carry_out(struct sim *s, const struct mc_policy_event *ev, int false_alarm,
                     const struct mc_policy_action *a)
{
	struct ev e = {0};
	const char *why = NULL;
	char buf[64];

	switch (a->act) {
	case MC_POLICY_NOTHING:
		return 0;
	case MC_POLICY_CHECKPOINT:
		if (s->restarting)
			why = "the job is restarting";
		else if (s->ckpt)
			why = "a checkpoint is under way";
		else if (s->done >= s->cfg->work_s)
			why = "the job is done";
		if (why)
			break;
		s->ckpt = 1;
		e.type = EV_CKPT_DONE;
		e.t = s->now + s->cfg->checkpoint_s;
		e.gen = ++s->ckpt_gen;
		return heap_push(&s->h, e) ? nomem(s) : 0;
	case MC_POLICY_MIGRATE:
		if (a->node >= s->next_spare || s->role[a->node] != ROLE_WORK) {
			snprintf(buf, sizeof(buf), "node %u holds no work%s", a->node,
			         a->node < s->next_spare && s->role[a->node] == ROLE_LEAVING
			                 ? " (already leaving)"
			                 : "");
			why = buf;
			break;
		}
		if (s->cfg->spares_limited && s->spares_used >= s->cfg->spares) {
			why = "no spares left";
			break;
		}
		if (grow(s, (size_t)s->next_spare + 1))
			return -ENOMEM;
		s->role[a->node] = ROLE_LEAVING;
		s->mig_false[a->node] = false_alarm && ev->node == a->node;
		s->nmig++;
		s->spares_used++;
		e.type = EV_MIG_DONE;
		e.t = s->now + s->cfg->migrate_s;
		e.node = a->node;
		e.aux = s->next_spare++;
		return heap_push(&s->h, e) ? nomem(s) : 0;
	}
	s->res->refused++;
	mc_policy_refused(s->pol, s->now, ev, a, why);
	return 0;
}

/* Tells the policy about ev and carries out what it says. */
static int tell(struct sim *s, struct mc_policy_event *ev, int false_alarm)
{
	struct mc_policy_out out;
	struct mc_policy_job job;
	int r;

	ev->now_s = s->now;
	job_view(s, &job);
	out.wake_s = s->wake;
	if ((r = mc_policy_decide(s->pol, ev, &job, &out, s->err, s->errlen)))
		return r;
	for (unsigned i = 0; i < out.n; i++)
		if ((r = carry_out(s, ev, false_alarm, &out.acts[i])))
			return r;
	if (out.wake_s != s->wake) {
		s->wake = out.wake_s;
		s->timer_gen++;
		if (s->wake >= 0) {
			struct ev e = {.type = EV_TIMER, .t = s->wake, .gen = s->timer_gen};

			if (heap_push(&s->h, e))
				return nomem(s);
		}
	}
	return 0;
}

static int on_fail(struct sim *s, const struct ev *e)
{
	struct mc_policy_event pe = {.kind = MC_POLICY_EV_FAILURE, .node = e->node};
	unsigned n = e->node;
	int r;

	if (s->role[n] == ROLE_VACATED) {
		s->role[n] = ROLE_GONE;
		s->res->avoided++;
		return 0;
	}
	if (s->role[n] != ROLE_WORK && s->role[n] != ROLE_LEAVING)
		return 0;
	/* A fresh node replaces it (renewal): its next failure counts from now. */
	s->fe[e->aux].p[n].birth = e->t + (double)s->fe[e->aux].f->duration_ms / 1000.0;
	s->fe[e->aux].p[n].t_ms += (double)s->fe[e->aux].f->duration_ms;
	if ((r = next_failure(s, e->aux, n, 0)))
		return r;
	s->res->failures++;
	pe.lost_s = s->done - s->saved;
	s->res->work_lost_s += pe.lost_s;
	s->done = s->saved;
	if (s->ckpt) {
		s->ckpt = 0;
		s->ckpt_gen++;
	}
	s->restarting = 1;
	s->launching = 0; /* a failure during the launch: a restart like any other */
	{
		struct ev d = {.type = EV_RESTART_DONE,
		               .t = s->now + s->cfg->restart_s,
		               .gen = ++s->restart_gen};

		if (heap_push(&s->h, d))
			return nomem(s);
	}
	return tell(s, &pe, 0);
}

static int on_event(struct sim *s, const struct ev *e)
{
	struct mc_policy_event pe = {0};
	int r;

	switch (e->type) {
	case EV_CKPT_DONE:
		if (e->gen != s->ckpt_gen || !s->ckpt)
			return 0;
		s->ckpt = 0;
		s->saved = s->done;
		s->last_ckpt = s->now;
		s->res->checkpoints++;
		pe.kind = MC_POLICY_EV_CHECKPOINTED;
		return tell(s, &pe, 0);
	case EV_RESTART_DONE:
		if (e->gen != s->restart_gen || !s->restarting)
			return 0;
		s->restarting = 0;
		s->last_ckpt = s->now;
		s->launching = 0; /* after the first launch too: the work begins */
		pe.kind = MC_POLICY_EV_RESUMED;
		return tell(s, &pe, 0);
	case EV_MIG_DONE:
		s->role[e->node] = ROLE_VACATED;
		s->nmig--;
		s->res->migrations++;
		s->res->false_migrations += s->mig_false[e->node];
		if ((r = node_start(s, e->aux, s->now, 1)))
			return r;
		pe.kind = MC_POLICY_EV_MIGRATED;
		pe.node = e->node;
		pe.spare = e->aux;
		return tell(s, &pe, 0);
	case EV_FAIL:
		return on_fail(s, e);
	case EV_WARN:
	case EV_ALARM:
		if (s->role[e->node] != ROLE_WORK)
			return 0;
		if (e->type == EV_ALARM && (r = next_alarm(s, e->node)))
			return r;
		s->res->warnings++;
		s->res->false_alarms += e->type == EV_ALARM;
		pe.kind = MC_POLICY_EV_WARNING;
		pe.node = e->node;
		pe.predicted_s = e->x;
		pe.signal = s->pred.precision;
		return tell(s, &pe, e->type == EV_ALARM);
	case EV_TIMER:
		if (e->gen != s->timer_gen)
			return 0;
		s->wake = -1;
		pe.kind = MC_POLICY_EV_TIMER;
		return tell(s, &pe, 0);
	}
	return 0;
}

static int setup(struct sim *s)
{
	const struct mc_experiment *e = s->e;
	unsigned n = s->cfg->nodes;
	int r;

	if ((r = mc_predict_node_rate(e, n, s->cfg->seed, &s->node_rate, s->err, s->errlen)))
		return r;
	mc_predict_init(&s->pred, e, s->cfg->seed, s->node_rate);
	if (e->n_faults && !(s->fe = calloc(e->n_faults, sizeof(*s->fe))))
		return nomem(s);
	for (unsigned i = 0; i < e->n_faults; i++) {
		const struct mc_exp_fault *f = &e->faults[i];
		struct mc_fault_target t;
		struct fentry *fe;
		char why[160];

		if (!mc_predict_is_failure(f->kind) || f->when == MC_EXP_AFTER)
			continue;
		fe = &s->fe[s->nfe++];
		fe->entry = i;
		fe->f = f;
		fe->renew = f->when == MC_EXP_DISTRIBUTION &&
		            (!s->cfg->plan_failures || !f->kind->fatal);
		if (mc_fault_target_parse(f->target, &t, why, sizeof(why)) == 0 &&
		    t.kind == MC_FT_LIST)
			for (unsigned j = 0; j < t.n; j++)
				fe->spares |= t.items[j].all;
	}
	s->next_spare = n;
	if ((r = grow(s, (size_t)n + 16)))
		return r;
	for (unsigned k = 0; k < s->nfe; k++) {
		unsigned *idx, cnt;

		if ((r = mc_predict_targets(e, s->fe[k].entry, n, s->cfg->seed, &idx, &cnt, s->err,
		                            s->errlen)))
			return r;
		for (unsigned j = 0; j < cnt; j++)
			s->fe[k].p[idx[j]].active = 1;
		free(idx);
	}
	for (unsigned i = 0; i < n; i++)
		if ((r = node_start(s, i, 0, 0)))
			return r;
	return 0;
}

static void sim_free(struct sim *s)
{
	for (unsigned k = 0; k < s->nfe; k++)
		free(s->fe[k].p);
	free(s->fe);
	free(s->role);
	free(s->mig_false);
	free(s->ast);
	free(s->at);
	free(s->h.v);
	mc_policy_destroy(&s->pol);
}

/* What the policy is told about the job (policy.h). */
void mc_sim_policy_env(const struct mc_sim_config *cfg, const struct mc_predict *pred,
                       double node_rate, const struct mc_policy_param *params, unsigned n_params,
                       struct mc_policy_env *env)
{
	memset(env, 0, sizeof(*env));
	env->nodes = cfg->nodes;
	env->work_s = cfg->work_s;
	env->checkpoint_s = cfg->checkpoint_s;
	env->restart_s = cfg->restart_s;
	env->migrate_s = cfg->migrate_s;
	env->node_mtbf_s = node_rate > 0 ? 1.0 / node_rate : 0;
	env->system_mtbf_s = env->node_mtbf_s / cfg->nodes;
	if (pred->on) {
		env->lead_s = pred->lead_s;
		env->recall = pred->recall;
		env->precision = pred->precision;
	}
	env->n_params = n_params;
	env->params = params;
}

int mc_sim_check_policy(const struct mc_experiment *e, const struct mc_sim_config *cfg,
                        const char *policy, const struct mc_policy_param *params, unsigned n_params,
                        char *err, size_t errlen)
{
	struct mc_policy_env env;
	struct mc_predict pred;
	struct mc_policy *p;
	double rate;
	int r;

	if ((r = mc_predict_node_rate(e, cfg->nodes, cfg->seed, &rate, err, errlen)))
		return r;
	mc_predict_init(&pred, e, cfg->seed, rate);
	mc_sim_policy_env(cfg, &pred, rate, params, n_params, &env);
	if (!(p = mc_policy_new(policy, &env, err, errlen)))
		return -EINVAL;
	mc_policy_destroy(&p);
	return 0;
}

int mc_sim_run(const struct mc_experiment *e, const struct mc_sim_config *cfg, const char *policy,
               const struct mc_policy_param *params, unsigned n_params, mc_policy_record_fn rec,
               void *rec_ctx, struct mc_sim_result *res, char *err, size_t errlen)
{
	struct sim s = {.e = e, .cfg = cfg, .res = res, .err = err, .errlen = errlen, .wake = -1};
	struct mc_policy_event start = {.kind = MC_POLICY_EV_START};
	struct mc_policy_env env = {0};
	int r;

	memset(res, 0, sizeof(*res));
	res->seed = cfg->seed;
	if (cfg->nodes == 0) {
		mc_errf(err, errlen, "simulate: no nodes");
		return -EINVAL;
	}
	if ((r = setup(&s)))
		goto out;
	mc_sim_policy_env(cfg, &s.pred, s.node_rate, params, n_params, &env);
	if (!(s.pol = mc_policy_new(policy, &env, err, errlen))) {
		r = -EINVAL;
		goto out;
	}
	mc_policy_set_recorder(s.pol, rec, rec_ctx);
	if (cfg->launch_s > 0) { /* no progress until the job's processes are up */
		struct ev d = {.type = EV_RESTART_DONE, .t = cfg->launch_s, .gen = ++s.restart_gen};

		s.restarting = s.launching = 1;
		if (heap_push(&s.h, d)) {
			r = nomem(&s);
			goto out;
		}
	}
	if ((r = tell(&s, &start, 0)))
		goto out;
	for (;;) {
		double te = s.h.n ? s.h.v[0].t : INFINITY;
		struct ev ev;

		if (running(&s) && s.last_t + (cfg->work_s - s.done) <= te) {
			double tc = s.last_t + (cfg->work_s - s.done);

			if (tc <= cfg->limit_s) {
				res->finished = 1;
				res->time_s = tc;
				break;
			}
		}
		if (te > cfg->limit_s || res->failures >= cfg->max_failures) {
			res->time_s = te > cfg->limit_s ? cfg->limit_s : s.now;
			break;
		}
		if (res->events >= MAX_EVENTS) {
			mc_errf(err, errlen,
			        "simulate: policy %s: more than %d events by %.3fs (does it ask to "
			        "be "
			        "woken at the same time again and again?)",
			        policy, MAX_EVENTS, s.now);
			r = -EINVAL;
			goto out;
		}
		ev = heap_pop(&s.h);
		advance(&s, ev.t);
		res->events++;
		if ((r = on_event(&s, &ev)))
			goto out;
	}
	r = 0;
out:
	sim_free(&s);
	return r;
}

/* ---- output ---- */

json_t *mc_sim_result_to_json(const struct mc_sim_result *r)
{
	return json_pack("{s:I, s:b, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	                 "seed", (json_int_t)r->seed, "finished", r->finished, "time_s", r->time_s,
	                 "work_lost_s", r->work_lost_s, "failures", (json_int_t)r->failures,
	                 "restarts", (json_int_t)r->failures, "checkpoints",
	                 (json_int_t)r->checkpoints, "migrations", (json_int_t)r->migrations,
	                 "false_alarm_migrations", (json_int_t)r->false_migrations,
	                 "failures_avoided", (json_int_t)r->avoided, "warnings",
	                 (json_int_t)r->warnings, "false_alarms", (json_int_t)r->false_alarms,
	                 "refused", (json_int_t)r->refused);
}

json_t *mc_sim_record_to_json(const struct mc_policy_record *r)
{
	json_t *o =
	        json_pack("{s:f, s:s, s:s, s:s, s:s}", "time_s", r->time_s, "policy",
	                  r->policy ? r->policy : "", "event", mc_policy_event_name(r->event),
	                  "action", mc_policy_act_name(r->action.act), "reason", r->action.reason);

	if (!o)
		return NULL;
	if (r->event == MC_POLICY_EV_WARNING || r->event == MC_POLICY_EV_FAILURE ||
	    r->event == MC_POLICY_EV_MIGRATED)
		json_object_set_new(o, "event_node", json_integer(r->event_node));
	if (r->action.act == MC_POLICY_MIGRATE)
		json_object_set_new(o, "node", json_integer(r->action.node));
	if (r->refused) {
		json_object_set_new(o, "refused", json_true());
		json_object_set_new(o, "why", json_string(r->why));
	}
	return o;
}
