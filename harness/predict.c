/* predict.c — the failure-prediction model: seeded health warnings ahead of the plan's failures. */
#include "predict.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int mc_predict_is_failure(const struct mc_fault_kind *k)
{
	return k && (strcmp(k->name, "crash") == 0 || strcmp(k->name, "reboot") == 0);
}

double mc_predict_entry_mtbf_s(const struct mc_exp_fault *f)
{
	if (f->when != MC_EXP_DISTRIBUTION)
		return 0;
	if (f->dist == MC_EXP_WEIBULL)
		return (double)f->scale_ms / 1000.0 * tgamma(1.0 + 1.0 / f->shape);
	return (double)f->mtbf_ms / 1000.0;
}

int mc_predict_targets(const struct mc_experiment *e, unsigned i, unsigned n, uint64_t seed,
                       unsigned **idx, unsigned *count, char *err, size_t errlen)
{
	char why[256];
	int r = mc_fault_resolve_targets(e, i, n, seed, idx, count, why, sizeof(why));

	if (r == -ENOMEM)
		mc_errf(err, errlen, "%s: out of memory", e->source);
	else if (r)
		mc_errf(err, errlen, "%s:%d: faults.plan[%u].target: %s", e->source,
		        e->faults[i].target_line, i, why);
	return r;
}

int mc_predict_node_rate(const struct mc_experiment *e, unsigned n, uint64_t seed, double *rate,
                         char *err, size_t errlen)
{
	double sum = 0;

	*rate = 0;
	for (unsigned i = 0; i < e->n_faults; i++) {
		const struct mc_exp_fault *f = &e->faults[i];
		double m = mc_predict_entry_mtbf_s(f);
		unsigned *idx, k;
		int r;

		if (!mc_predict_is_failure(f->kind) || !(m > 0))
			continue;
		if ((r = mc_predict_targets(e, i, n, seed, &idx, &k, err, errlen)))
			return r;
		free(idx);
		sum += (double)k / m;
	}
	*rate = n ? sum / n : 0;
	return 0;
}

void mc_predict_init(struct mc_predict *p, const struct mc_experiment *e, uint64_t seed,
                     double node_rate)
{
	const struct mc_exp_prediction *pr = &e->prediction;

	memset(p, 0, sizeof(*p));
	p->seed = seed;
	if (!pr->set)
		return;
	p->on = 1;
	p->lead_s = (double)pr->lead_ms / 1000.0;
	p->recall = pr->recall;
	p->precision = pr->precision;
	if (pr->precision > 0 && pr->precision < 1 && node_rate > 0)
		p->alarm_rate = pr->recall * (1 - pr->precision) / pr->precision * node_rate;
}

uint64_t mc_predict_recall_stream(const struct mc_predict *p, unsigned entry, uint64_t node)
{
	return mc_fault_rng_stream(p->seed, MC_PREDICT_RECALL_ENTRY + entry, node + 1);
}

int mc_predict_warned(const struct mc_predict *p, uint64_t *state)
{
	return mc_fault_rng_uniform(state) < p->recall;
}

uint64_t mc_predict_alarm_stream(const struct mc_predict *p, uint64_t node)
{
	return mc_fault_rng_stream(p->seed, MC_PREDICT_ALARM_ENTRY, node + 1);
}

double mc_predict_next_alarm(const struct mc_predict *p, uint64_t *state, double *t)
{
	if (!p->on || !(p->alarm_rate > 0))
		return INFINITY;
	*t += -log1p(-mc_fault_rng_uniform(state)) / p->alarm_rate;
	return (double)llround(*t * 1000.0) / 1000.0;
}

/* ---- warnings for a real run ---- */

struct plist {
	struct mc_predict_list *l;
	size_t cap;
};

static int push(struct plist *pl, const struct mc_predict_warning *w)
{
	struct mc_predict_list *l = pl->l;

	if (l->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 64;
		struct mc_predict_warning *v = realloc(l->items, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->items = v;
		pl->cap = cap;
	}
	l->items[l->n++] = *w;
	return 0;
}

static int cmp_warning(const void *a, const void *b)
{
	const struct mc_predict_warning *x = a, *y = b;

	if (x->workload_index != y->workload_index)
		return x->workload_index < y->workload_index ? -1 : 1;
	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	if (x->guest != y->guest)
		return x->guest < y->guest ? -1 : 1;
	return (x->false_alarm > y->false_alarm) - (x->false_alarm < y->false_alarm);
}

/* The recall stream and the time of the last failure for every (failure entry, guest). */
struct rstate {
	uint64_t *st;   /* per guest; 0 = not started */
	int *started;   /* per guest */
	uint64_t *last; /* per guest: birth of the node, ms */
};

static int warn_failures(const struct mc_experiment *e, const struct mc_fault_sched *s,
                         const struct mc_predict *p, struct plist *pl)
{
	unsigned n = e->cluster.guests;
	struct rstate *rs = calloc(e->n_faults ? e->n_faults : 1, sizeof(*rs));
	uint64_t lead = e->prediction.lead_ms;
	int r = 0;

	if (!rs)
		return -ENOMEM;
	for (size_t k = 0; k < s->n && !r; k++) {
		const struct mc_fault_planned *it = &s->items[k];
		struct rstate *x = &rs[it->entry];

		if (!mc_predict_is_failure(it->kind) || it->triggered)
			continue;
		if (!x->st && (!(x->st = calloc(n, sizeof(*x->st))) ||
		               !(x->started = calloc(n, sizeof(*x->started))) ||
		               !(x->last = calloc(n, sizeof(*x->last))))) {
			r = -ENOMEM;
			break;
		}
		for (const char *g = it->guests; g && *g;) {
			unsigned gi = (unsigned)strtoul(g + 1, NULL, 10);
			struct mc_predict_warning w;
			uint64_t birth;

			g = strchr(g, ',');
			g = g ? g + 1 : NULL;
			if (gi >= n)
				continue;
			if (!x->started[gi]) {
				x->st[gi] = mc_predict_recall_stream(p, it->entry, gi);
				x->started[gi] = 1;
			}
			birth = x->last[gi];
			x->last[gi] = it->at_ms + it->duration_ms;
			if (!mc_predict_warned(p, &x->st[gi]))
				continue;
			memset(&w, 0, sizeof(w));
			w.workload_index = it->workload_index;
			w.at_ms = it->at_ms >= birth + lead ? it->at_ms - lead : birth;
			if (w.at_ms > it->at_ms)
				w.at_ms = it->at_ms;
			w.predicted_ms = it->at_ms;
			w.guest = gi;
			w.entry = it->entry;
			if ((r = push(pl, &w)))
				break;
		}
	}
	for (unsigned i = 0; i < e->n_faults; i++) {
		free(rs[i].st);
		free(rs[i].started);
		free(rs[i].last);
	}
	free(rs);
	return r;
}

/* F(h): the probability that a draw of entry f is below h ms. */
static double cdf(const struct mc_exp_fault *f, double h)
{
	if (f->dist == MC_EXP_WEIBULL)
		return 1 - exp(-pow(h / (double)f->scale_ms, f->shape));
	return 1 - exp(-h / (double)f->mtbf_ms);
}

/*
 * The expected failures of workload w's plan over its alarm window [0, *window) ms, summed
 * over guests: fixed-time entries count their targets; a fatal distribution entry n x F(H);
 * a renewing one n x H / (mean + duration). The window is the largest horizon (or fixed time
 * + 1 ms) of the workload's failure entries.
 */
static int expected_failures(const struct mc_experiment *e, unsigned w, uint64_t seed, double *sum,
                             uint64_t *window, char *err, size_t errlen)
{
	*sum = 0;
	*window = 0;
	for (unsigned i = 0; i < e->n_faults; i++) {
		const struct mc_exp_fault *f = &e->faults[i];
		unsigned *idx, k;
		double h = (double)f->horizon_ms;
		int r;

		if (f->workload != w || !mc_predict_is_failure(f->kind) || f->when == MC_EXP_AFTER)
			continue;
		if ((r = mc_predict_targets(e, i, e->cluster.guests, seed, &idx, &k, err, errlen)))
			return r;
		free(idx);
		if (f->when == MC_EXP_AT) {
			*sum += k;
			if (f->at_ms + 1 > *window)
				*window = f->at_ms + 1;
			continue;
		}
		if (f->horizon_ms > *window)
			*window = f->horizon_ms;
		if (f->kind->fatal)
			*sum += k * cdf(f, h);
		else
			*sum += k * h /
			        (mc_predict_entry_mtbf_s(f) * 1000 + (double)f->duration_ms);
	}
	return 0;
}

int mc_predict_schedule(const struct mc_experiment *e, const struct mc_fault_sched *s,
                        uint64_t seed, struct mc_predict_list *out, char *err, size_t errlen)
{
	struct plist pl = {.l = out};
	struct mc_predict p;
	int r;

	memset(out, 0, sizeof(*out));
	if (!e->prediction.set)
		return 0;
	mc_predict_init(&p, e, seed, 0);
	if ((r = warn_failures(e, s, &p, &pl)))
		goto nomem;
	for (unsigned w = 0; w < e->n_workloads; w++) {
		const struct mc_exp_prediction *pr = &e->prediction;
		uint64_t window;
		double expect;

		if ((r = expected_failures(e, w, seed, &expect, &window, err, errlen)))
			return r;
		if (!window || !(expect > 0) || !(pr->precision < 1))
			continue;
		/* Expected false alarms: (1 - precision) / precision x the expected warnings. */
		p.alarm_rate = pr->recall * (1 - pr->precision) / pr->precision * expect /
		               ((double)e->cluster.guests * (double)window / 1000.0);
		for (unsigned g = 0; g < e->cluster.guests; g++) {
			uint64_t st = mc_predict_alarm_stream(&p, g);
			double t = 0, at;

			while ((at = mc_predict_next_alarm(&p, &st, &t)) * 1000.0 <
			       (double)window) {
				struct mc_predict_warning x = {
				        .workload_index = w,
				        .at_ms = (uint64_t)llround(at * 1000.0),
				        .guest = g,
				        .false_alarm = 1,
				        .entry = UINT32_MAX,
				};

				x.predicted_ms = x.at_ms + pr->lead_ms;
				if ((r = push(&pl, &x)))
					goto nomem;
			}
		}
	}
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), cmp_warning);
	return 0;
nomem:
	mc_errf(err, errlen, "%s: out of memory", e->source);
	return -ENOMEM;
}

void mc_predict_list_fini(struct mc_predict_list *l)
{
	if (!l)
		return;
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

json_t *mc_predict_list_to_json(const struct mc_experiment *e, const struct mc_predict_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++) {
		const struct mc_predict_warning *w = &l->items[i];
		char g[16];
		json_t *o;

		snprintf(g, sizeof(g), "g%04u", w->guest);
		o = json_pack("{s:s, s:I, s:I, s:s, s:b}", "workload",
		              e->workloads[w->workload_index].name, "at_ms", (json_int_t)w->at_ms,
		              "predicted_ms", (json_int_t)w->predicted_ms, "guest", g,
		              "false_alarm", w->false_alarm);
		if (!o || json_array_append_new(a, o)) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}
