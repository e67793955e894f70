/* faultplan.c — fault plans: target sets, the seeded RNG, and the schedule a plan generates. */
#include "faultplan.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define GOLDEN 0x9e3779b97f4a7c15ull

#define TARGET_WHAT                                                                                \
	"a target: all, gNNNN, gNNNN-gMMMM, I or I-J (comma-separated), random(K), fraction(F) "   \
	"or rank(R)"

#define MAX_GUESTS 65534u                  /* as cluster.guests */
#define MAX_RANK   (MAX_GUESTS * 256u - 1) /* guests x the largest ppn, less one */

/* ---- the RNG ---- */

static uint64_t mix(uint64_t x)
{
	uint64_t z = x + GOLDEN;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t mc_fault_rng_next(uint64_t *state)
{
	uint64_t r = mix(*state);

	*state += GOLDEN;
	return r;
}

double mc_fault_rng_uniform(uint64_t *state)
{
	return (double)(mc_fault_rng_next(state) >> 11) * 0x1.0p-53;
}

uint64_t mc_fault_rng_stream(uint64_t seed, unsigned entry, uint64_t sub)
{
	return mix(mix(mix(seed) ^ (uint64_t)entry) ^ sub);
}

double mc_fault_draw_ms(const struct mc_exp_fault *f, uint64_t *state)
{
	double x = -log1p(-mc_fault_rng_uniform(state)); /* a standard exponential */

	if (f->dist == MC_EXP_WEIBULL)
		return (double)f->scale_ms * pow(x, 1.0 / f->shape);
	return (double)f->mtbf_ms * x;
}

/* ---- targets ---- */

static void set_why(char *why, size_t whylen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* s[0..len) as a decimal integer 0..max (digits only, at most 10). */
static int parse_num(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* s[0..len) as a guest name exactly as the controller writes it: "g%04u". */
static int parse_guest(const char *s, size_t len, unsigned *idx)
{
	char canon[16];
	uint64_t v;

	if (len < 2 || s[0] != 'g' || parse_num(s + 1, len - 1, MAX_GUESTS - 1, &v))
		return -EINVAL;
	snprintf(canon, sizeof(canon), "g%04u", (unsigned)v);
	if (strlen(canon) != len || memcmp(canon, s, len) != 0)
		return -EINVAL;
	*idx = (unsigned)v;
	return 0;
}

int mc_fault_guest_parse(const char *s, unsigned *index)
{
	return parse_guest(s, strlen(s), index);
}

/* One comma-separated item, spaces already trimmed. */
static int parse_item(const char *s, size_t len, struct mc_fault_target_item *it)
{
	const char *dash = memchr(s, '-', len);
	uint64_t a, b;

	memset(it, 0, sizeof(*it));
	if (len == 3 && memcmp(s, "all", 3) == 0) {
		it->all = 1;
		it->hi = UINT_MAX;
		return 0;
	}
	if (len > 0 && s[0] == 'g') {
		it->names = 1;
		if (!dash) {
			if (parse_guest(s, len, &it->lo))
				return -EINVAL;
			it->hi = it->lo;
		} else if (parse_guest(s, (size_t)(dash - s), &it->lo) ||
		           parse_guest(dash + 1, len - (size_t)(dash - s) - 1, &it->hi)) {
			return -EINVAL;
		}
	} else if (!dash) {
		if (parse_num(s, len, MAX_GUESTS - 1, &a))
			return -EINVAL;
		it->lo = it->hi = (unsigned)a;
	} else {
		if (parse_num(s, (size_t)(dash - s), MAX_GUESTS - 1, &a) ||
		    parse_num(dash + 1, len - (size_t)(dash - s) - 1, MAX_GUESTS - 1, &b))
			return -EINVAL;
		it->lo = (unsigned)a;
		it->hi = (unsigned)b;
	}
	return it->lo <= it->hi ? 0 : -ERANGE;
}

/* The inside of "name(...)" when s is exactly that, else NULL. */
static const char *call_arg(const char *s, const char *name, size_t *len)
{
	size_t n = strlen(name), sl = strlen(s);

	if (sl < n + 2 || strncmp(s, name, n) != 0 || s[n] != '(' || s[sl - 1] != ')')
		return NULL;
	*len = sl - n - 2;
	return s + n + 1;
}

/* "0.25", "1", "0.5": digits with an optional fraction part. */
static int parse_fraction(const char *s, size_t len, double *out)
{
	char buf[32], *end;
	size_t i = 0, dot = 0;
	double v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] == '.' && !dot && i > 0 && i + 1 < len)
			dot = i;
		else if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, &end);
	if (*end || !(v > 0) || v > 1)
		return -EINVAL;
	*out = v;
	return 0;
}

int mc_fault_target_parse(const char *s, struct mc_fault_target *t, char *why, size_t whylen)
{
	const char *arg;
	size_t len;
	uint64_t v;

	memset(t, 0, sizeof(*t));
	if (!s || !*s) {
		set_why(why, whylen, "%s", TARGET_WHAT);
		return -EINVAL;
	}
	if ((arg = call_arg(s, "random", &len)) != NULL) {
		if (parse_num(arg, len, MAX_GUESTS, &v) || v == 0) {
			set_why(why, whylen, "random(K) with K an integer 1..%u", MAX_GUESTS);
			return -EINVAL;
		}
		t->kind = MC_FT_RANDOM;
		t->k = (unsigned)v;
		return 0;
	}
	if ((arg = call_arg(s, "fraction", &len)) != NULL) {
		if (parse_fraction(arg, len, &t->fraction)) {
			set_why(why, whylen,
			        "fraction(F) with F a number above 0 and at most 1, e.g. 0.25");
			return -EINVAL;
		}
		t->kind = MC_FT_FRACTION;
		return 0;
	}
	if ((arg = call_arg(s, "rank", &len)) != NULL) {
		if (parse_num(arg, len, MAX_RANK, &v)) {
			set_why(why, whylen, "rank(R) with R an integer 0..%u", MAX_RANK);
			return -EINVAL;
		}
		t->kind = MC_FT_RANK;
		t->k = (unsigned)v;
		return 0;
	}
	t->kind = MC_FT_LIST;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		const char *p = s;
		int r;

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (t->n >= MC_FAULT_TARGET_ITEMS) {
			set_why(why, whylen, "a target of at most %d comma-separated items",
			        MC_FAULT_TARGET_ITEMS);
			return -EINVAL;
		}
		if ((r = parse_item(p, n, &t->items[t->n])) != 0) {
			if (r == -ERANGE)
				set_why(why, whylen, "ranges written low-high, e.g. g0001-g0063");
			else
				set_why(why, whylen, "%s", TARGET_WHAT);
			return -EINVAL;
		}
		t->n++;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

/* ---- the schedule ---- */

struct sctx {
	const struct mc_experiment *e;
	char *err;
	size_t errlen;
	struct mc_fault_sched *out;
	size_t cap; /* room in out->items */
};

static int sfail(struct sctx *c, unsigned entry, int line, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* "FILE:LINE: faults.plan[I].FIELD: message" (no ".FIELD" when field is NULL). */
static int sfail(struct sctx *c, unsigned entry, int line, const char *field, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_why(c->err, c->errlen, "%s:%d: faults.plan[%u]%s%s: %s", c->e->source, line, entry,
	        field ? "." : "", field ? field : "", msg);
	return -EINVAL;
}

static int snomem(struct sctx *c)
{
	set_why(c->err, c->errlen, "%s: out of memory", c->e->source);
	return -ENOMEM;
}

/* An item as written, for messages. */
static void item_text(const struct mc_fault_target_item *it, char *buf, size_t cap)
{
	const char *p = it->names ? "g" : "";
	int w = it->names ? 4 : 1;

	if (it->lo == it->hi)
		snprintf(buf, cap, "%s%0*u", p, w, it->lo);
	else
		snprintf(buf, cap, "%s%0*u-%s%0*u", p, w, it->lo, p, w, it->hi);
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

int mc_fault_resolve_targets(const struct mc_experiment *e, unsigned i, unsigned n, uint64_t seed,
                             unsigned **gv, unsigned *gn, char *why, size_t whylen)
{
	const struct mc_exp_fault *f = &e->faults[i];
	const struct mc_exp_workload *w = &e->workloads[f->workload];
	unsigned k = 0, *v;
	struct mc_fault_target t;
	char txt[160];

	*gv = NULL;
	*gn = 0;
	if (mc_fault_target_parse(f->target, &t, txt, sizeof(txt))) {
		set_why(why, whylen, "expected %s, got \"%s\"", txt, f->target);
		return -EINVAL;
	}
	if (!(v = calloc(n ? n : 1, sizeof(*v))))
		return -ENOMEM;
	switch (t.kind) {
	case MC_FT_LIST: {
		unsigned char *mark = calloc(n ? n : 1, 1);

		if (!mark) {
			free(v);
			return -ENOMEM;
		}
		for (unsigned j = 0; j < t.n; j++) {
			struct mc_fault_target_item *it = &t.items[j];

			if (it->all)
				it->hi = n - 1;
			if (it->hi >= n) {
				item_text(it, txt, sizeof(txt));
				free(mark);
				free(v);
				if (t.items[j].names)
					set_why(why, whylen,
					        "%s is outside the cluster (%u guests: "
					        "g0000-g%04u)",
					        txt, n, n - 1);
				else
					set_why(why, whylen,
					        "%s is outside the cluster (%u guests: 0-%u)", txt,
					        n, n - 1);
				return -EINVAL;
			}
			for (unsigned g = it->lo; g <= it->hi; g++)
				mark[g] = 1;
		}
		for (unsigned g = 0; g < n; g++)
			if (mark[g])
				v[k++] = g;
		free(mark);
		break;
	}
	case MC_FT_RANDOM:
	case MC_FT_FRACTION: {
		uint64_t st = mc_fault_rng_stream(seed, i, MC_FAULT_STREAM_PICK);

		if (t.kind == MC_FT_RANDOM) {
			k = t.k;
			if (k > n) {
				free(v);
				set_why(why, whylen,
				        "random(%u) needs %u guests, the cluster has %u", k, k, n);
				return -EINVAL;
			}
		} else {
			k = (unsigned)floor(t.fraction * n + 0.5);
			if (k == 0) {
				free(v);
				set_why(why, whylen, "%s of %u guests selects none", f->target, n);
				return -EINVAL;
			}
		}
		for (unsigned g = 0; g < n; g++)
			v[g] = g;
		for (unsigned j = 0; j < k; j++) {
			unsigned r = j + (unsigned)(mc_fault_rng_uniform(&st) * (double)(n - j)), x;

			x = v[j];
			v[j] = v[r];
			v[r] = x;
		}
		qsort(v, k, sizeof(*v), cmp_unsigned);
		break;
	}
	case MC_FT_RANK:
		if (t.k >= w->ranks || t.k / (w->ppn ? w->ppn : 1) >= n) {
			free(v);
			set_why(why, whylen, "rank(%u) is outside workload \"%s\" (%u ranks: 0-%u)",
			        t.k, w->name, w->ranks, w->ranks - 1);
			return -EINVAL;
		}
		v[k++] = t.k / (w->ppn ? w->ppn : 1);
		break;
	}
	*gv = v;
	*gn = k;
	return 0;
}

static int resolve(struct sctx *c, uint64_t seed, unsigned i, unsigned **gv, unsigned *gn)
{
	char why[256];
	int r = mc_fault_resolve_targets(c->e, i, c->e->cluster.guests, seed, gv, gn, why,
	                                 sizeof(why));

	if (r == -ENOMEM)
		return snomem(c);
	if (r)
		return sfail(c, i, c->e->faults[i].target_line, "target", "%s", why);
	return 0;
}

/* A new item for entry i, zeroed but for the entry's fields; NULL when full or OOM. */
static struct mc_fault_planned *add_item(struct sctx *c, unsigned i, int *r)
{
	const struct mc_experiment *e = c->e;
	const struct mc_exp_fault *f = &e->faults[i];
	struct mc_fault_sched *s = c->out;
	struct mc_fault_planned *p;

	if (s->n >= MC_FAULT_MAX_PLANNED) {
		*r = sfail(c, i, f->line, NULL, "the plan comes to more than %d injections",
		           MC_FAULT_MAX_PLANNED);
		return NULL;
	}
	if (s->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;

		if (!(p = realloc(s->items, cap * sizeof(*p)))) {
			*r = snomem(c);
			return NULL;
		}
		s->items = p;
		c->cap = cap;
	}
	p = &s->items[s->n++];
	memset(p, 0, sizeof(*p));
	p->entry = i;
	snprintf(p->name, sizeof(p->name), "%s", f->name);
	p->kind = f->kind;
	p->workload_index = f->workload;
	snprintf(p->workload, sizeof(p->workload), "%s", e->workloads[f->workload].name);
	p->duration_ms = f->duration_ms;
	p->n_params = f->n_params;
	memcpy(p->params, f->params, sizeof(p->params));
	return p;
}

/* Sets p's guests to the names of gv[0..gn). */
static int set_guests(struct sctx *c, struct mc_fault_planned *p, const unsigned *gv, unsigned gn)
{
	size_t o = 0, cap = (size_t)gn * 8 + 1;

	if (!(p->guests = malloc(cap)))
		return snomem(c);
	p->guests[0] = '\0';
	for (unsigned j = 0; j < gn; j++)
		o += (size_t)snprintf(p->guests + o, cap - o, "%sg%04u", j ? "," : "", gv[j]);
	p->n_guests = gn;
	p->first_guest = gn ? gv[0] : 0;
	return 0;
}

static int plan_entry(struct sctx *c, uint64_t seed, unsigned i)
{
	const struct mc_exp_fault *f = &c->e->faults[i];
	unsigned n = c->e->cluster.guests, *gv = NULL, gn = 0;
	struct mc_fault_planned *p;
	int r;

	if (f->when == MC_EXP_AFTER && f->event == MC_EXP_EVENT_HEARTBEAT && f->guest_index >= n)
		return sfail(c, i, f->guest_line, "after.guest",
		             "%s is outside the cluster (%u guests: g0000-g%04u)", f->guest, n,
		             n - 1);
	if ((r = resolve(c, seed, i, &gv, &gn)))
		return r;
	if (f->when != MC_EXP_DISTRIBUTION) {
		if (!(p = add_item(c, i, &r)))
			goto out;
		p->at_ms = f->when == MC_EXP_AT ? f->at_ms : f->delay_ms;
		if (f->when == MC_EXP_AFTER) {
			p->triggered = 1;
			p->event = f->event;
			snprintf(p->match, sizeof(p->match), "%s", f->match);
			snprintf(p->guest, sizeof(p->guest), "%s", f->guest);
			p->count = f->count;
		}
		r = set_guests(c, p, gv, gn);
		goto out;
	}
	for (unsigned j = 0; j < gn; j++) {
		uint64_t st = mc_fault_rng_stream(seed, i, (uint64_t)gv[j] + 1);
		double t = 0;

		for (;;) {
			uint64_t at;

			t += mc_fault_draw_ms(f, &st);
			if (!(t < (double)f->horizon_ms))
				break;
			at = (uint64_t)llround(t);
			if (at >= f->horizon_ms)
				break;
			if (!(p = add_item(c, i, &r)) || (r = set_guests(c, p, &gv[j], 1)))
				goto out;
			p->at_ms = at;
			if (f->kind->fatal)
				break;
			t += (double)f->duration_ms;
		}
	}
out:
	free(gv);
	return r;
}

static int cmp_planned(const void *a, const void *b)
{
	const struct mc_fault_planned *x = a, *y = b;

	if (x->workload_index != y->workload_index)
		return x->workload_index < y->workload_index ? -1 : 1;
	if (x->at_ms != y->at_ms)
		return x->at_ms < y->at_ms ? -1 : 1;
	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	return (x->first_guest > y->first_guest) - (x->first_guest < y->first_guest);
}

uint64_t mc_fault_seed(const struct mc_experiment *e)
{
	return e->fault_seed_set ? e->fault_seed : e->seed;
}

int mc_fault_schedule(const struct mc_experiment *e, uint64_t seed, struct mc_fault_sched *out,
                      char *err, size_t errlen)
{
	struct sctx c = {.e = e, .err = err, .errlen = errlen, .out = out};
	int r;

	memset(out, 0, sizeof(*out));
	set_why(err, errlen, "%s", "");
	for (unsigned i = 0; i < e->n_faults; i++)
		if ((r = plan_entry(&c, seed, i)))
			return r;
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), cmp_planned);
	return 0;
}

void mc_fault_sched_fini(struct mc_fault_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i].guests);
	free(s->items);
	s->items = NULL;
	s->n = 0;
}

/* ---- output ---- */

static const char *const event_names[] = {"output", "heartbeat"};

/* Appends v to array a, or sets o[key] = v; records a failure in *bad. Takes v. */
static void jadd(json_t *o, const char *key, json_t *v, int *bad)
{
	if (!o || !v || (key ? json_object_set_new(o, key, v) : json_array_append_new(o, v)))
		*bad = 1;
	if (!o && v)
		json_decref(v);
}

static json_t *planned_json(const struct mc_fault_planned *p, int *bad)
{
	json_t *o = json_object(), *guests = json_array(), *params = json_object();

	jadd(o, "entry", json_integer(p->entry), bad);
	jadd(o, "name", json_string(p->name), bad);
	jadd(o, "kind", json_string(p->kind->name), bad);
	jadd(o, "workload", json_string(p->workload), bad);
	if (p->triggered) {
		json_t *a = json_object();

		jadd(a, "event", json_string(event_names[p->event]), bad);
		if (p->event == MC_EXP_EVENT_OUTPUT) {
			jadd(a, "match", json_string(p->match), bad);
		} else {
			jadd(a, "guest", json_string(p->guest), bad);
			jadd(a, "count", json_integer(p->count), bad);
		}
		jadd(a, "delay_ms", json_integer((json_int_t)p->at_ms), bad);
		jadd(o, "after", a, bad);
	} else {
		jadd(o, "at_ms", json_integer((json_int_t)p->at_ms), bad);
	}
	jadd(o, "duration_ms", json_integer((json_int_t)p->duration_ms), bad);
	for (const char *g = p->guests; g && *g;) {
		const char *comma = strchr(g, ',');
		size_t len = comma ? (size_t)(comma - g) : strlen(g);

		jadd(guests, NULL, json_stringn(g, len), bad);
		g = comma ? comma + 1 : g + len;
	}
	jadd(o, "guests", guests, bad);
	for (unsigned i = 0; i < p->n_params; i++)
		jadd(params, p->params[i].key, json_string(p->params[i].value), bad);
	jadd(o, "params", params, bad);
	return o;
}

json_t *mc_fault_sched_to_json(const struct mc_fault_sched *s)
{
	json_t *a = json_array();
	int bad = 0;

	for (size_t i = 0; a && i < s->n; i++)
		jadd(a, NULL, planned_json(&s->items[i], &bad), &bad);
	if (bad || !a) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* ms as seconds with three decimals: "12.345s". */
static void fmt_ms(char *buf, size_t cap, uint64_t ms)
{
	snprintf(buf, cap, "%" PRIu64 ".%03" PRIu64 "s", ms / 1000, ms % 1000);
}

#define GUESTS_SHOWN 40 /* characters of a guest list in the table */

/* The cells of one row. */
struct row {
	char when[200], dur[32], guests[GUESTS_SHOWN + 32], params[300];
};

/*
 * p's guests for the table: runs of three or more as ranges ("g0010-g0019"), and a list
 * longer than GUESTS_SHOWN cut at a comma, with the count ("g0001,g0005,... (12)").
 */
static void compress_guests(const struct mc_fault_planned *p, char *buf, size_t cap)
{
	const char *g = p->guests;
	size_t o = 0;
	unsigned lo = 0, hi = 0, x;
	int have = 0, full = 0;

	buf[0] = '\0';
	for (;;) {
		int more = g && *g == 'g';

		x = more ? (unsigned)strtoul(g + 1, NULL, 10) : 0;
		if (have && more && x == hi + 1) {
			hi = x;
		} else {
			if (have && !full) {
				char item[32];

				if (hi - lo >= 2)
					snprintf(item, sizeof(item), "g%04u-g%04u", lo, hi);
				else if (hi > lo)
					snprintf(item, sizeof(item), "g%04u,g%04u", lo, hi);
				else
					snprintf(item, sizeof(item), "g%04u", lo);
				if (o + strlen(item) + 1 > GUESTS_SHOWN) {
					full = 1;
				} else {
					o += (size_t)snprintf(buf + o, cap - o, "%s%s",
					                      o ? "," : "", item);
				}
			}
			if (!more)
				break;
			lo = hi = x;
			have = 1;
		}
		g = strchr(g, ',');
		g = g ? g + 1 : NULL;
	}
	if (full)
		snprintf(buf + o, cap - o, "%s... (%u)", o ? "," : "", p->n_guests);
}

static void fill_row(const struct mc_fault_planned *p, struct row *rw)
{
	char t[32];
	size_t o = 0;

	fmt_ms(t, sizeof(t), p->at_ms);
	if (!p->triggered)
		snprintf(rw->when, sizeof(rw->when), "%s", t);
	else if (p->event == MC_EXP_EVENT_OUTPUT)
		snprintf(rw->when, sizeof(rw->when), "output \"%.40s\" +%s", p->match, t);
	else
		snprintf(rw->when, sizeof(rw->when), "heartbeat %s #%u +%s", p->guest, p->count, t);
	if (p->duration_ms)
		fmt_ms(rw->dur, sizeof(rw->dur), p->duration_ms);
	else
		snprintf(rw->dur, sizeof(rw->dur), "-");
	compress_guests(p, rw->guests, sizeof(rw->guests));
	rw->params[0] = '\0';
	for (unsigned i = 0; i < p->n_params && o < sizeof(rw->params); i++)
		o += (size_t)snprintf(rw->params + o, sizeof(rw->params) - o, "%s%s=%s",
		                      i ? " " : "", p->params[i].key, p->params[i].value);
	if (!p->n_params)
		snprintf(rw->params, sizeof(rw->params), "-");
}

void mc_fault_sched_print(const struct mc_fault_sched *s, FILE *fp)
{
	int ww = 8, tw = 4, kw = 4, dw = 8, gw = 6, pw = 6;
	struct row rw;

	if (!s || s->n == 0) {
		fprintf(fp, "no faults planned\n");
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct mc_fault_planned *p = &s->items[i];

		fill_row(p, &rw);
#define WIDEN(w, str)                                                                              \
	do {                                                                                       \
		if ((int)strlen(str) > (w))                                                        \
			(w) = (int)strlen(str);                                                    \
	} while (0)
		WIDEN(ww, p->workload);
		WIDEN(tw, rw.when);
		WIDEN(kw, p->kind->name);
		WIDEN(dw, rw.dur);
		WIDEN(gw, rw.guests);
		WIDEN(pw, rw.params);
#undef WIDEN
	}
	fprintf(fp, "%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", ww, "WORKLOAD", tw, "TIME", kw,
	        "KIND", dw, "DURATION", gw, "GUESTS", pw, "PARAMS", "NAME");
	for (size_t i = 0; i < s->n; i++) {
		const struct mc_fault_planned *p = &s->items[i];

		fill_row(p, &rw);
		fprintf(fp, "%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", ww, p->workload, tw,
		        rw.when, kw, p->kind->name, dw, rw.dur, gw, rw.guests, pw, rw.params,
		        p->name);
	}
}
