/* test_faultplan.c — fault plans: parsing, targets, exact errors, the seeded schedule. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiment.h"
#include "fault.h"
#include "faultplan.h"
#include "util.h"

#ifndef MC_EXPERIMENTS_DIR
#error "MC_EXPERIMENTS_DIR (workloads/experiments in the source tree) must be defined"
#endif

/* Lines 1-7; the first plan entry is on line 8. */
#define HEAD                                                                                       \
	"name: t\n"                                                                                \
	"cluster: {guests: 64}\n"                                                                  \
	"workloads:\n"                                                                             \
	"  - {name: ring, kind: mpi, program: mc-ring, ppn: 2}\n"                                  \
	"  - {name: farm, kind: taskfarm}\n"                                                       \
	"faults:\n"                                                                                \
	"  plan:\n"

static struct mc_experiment *parse_ok(const char *text)
{
	char err[512] = "";
	struct mc_experiment *e =
	        mc_experiment_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	if (!e)
		fail_msg("unexpected error: %s\n--- input ---\n%s", err, text);
	return e;
}

/* Parses text and checks the exact message. */
static void expect_error(const char *text, const char *want)
{
	char err[512] = "";
	struct mc_experiment *e =
	        mc_experiment_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	if (e) {
		mc_experiment_destroy(&e);
		fail_msg("parsed, but wanted the error: %s\n--- input ---\n%s", want, text);
	}
	assert_string_equal(err, want);
}

static void schedule_ok(const struct mc_experiment *e, uint64_t seed, struct mc_fault_sched *s)
{
	char err[512] = "";

	if (mc_fault_schedule(e, seed, s, err, sizeof(err)) != 0)
		fail_msg("unexpected schedule error: %s", err);
	assert_string_equal(err, "");
}

/* Parses text (which must parse), schedules it and checks the exact message. */
static void expect_sched_error(const char *text, const char *want)
{
	struct mc_experiment *e = parse_ok(text);
	struct mc_fault_sched s;
	char err[512] = "";

	assert_int_equal(mc_fault_schedule(e, 1, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	mc_fault_sched_fini(&s);
	mc_experiment_destroy(&e);
}

static char *sched_dumps(const struct mc_fault_sched *s)
{
	json_t *j = mc_fault_sched_to_json(s);
	char *str;

	assert_non_null(j);
	str = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	assert_non_null(str);
	return str;
}

/* The first item planned for entry. */
static const struct mc_fault_planned *item_of(const struct mc_fault_sched *s, unsigned entry)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->items[i].entry == entry)
			return &s->items[i];
	fail_msg("no item for entry %u", entry);
	return NULL;
}

static size_t count_of(const struct mc_fault_sched *s, unsigned entry)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->items[i].entry == entry;
	return n;
}

/* ---- the RNG ---- */

static void test_rng(void **state)
{
	uint64_t st = 0, a, b, m1, m2, m3;
	double u;

	(void)state;
	/* splitmix64's reference outputs for state 0. */
	assert_int_equal(mc_fault_rng_next(&st), 0xe220a8397b1dcdafull);
	assert_int_equal(mc_fault_rng_next(&st), 0x6e789e6aa1b965f4ull);
	assert_int_equal(mc_fault_rng_next(&st), 0x06c45d188009454full);
	assert_int_equal(st, 3 * 0x9e3779b97f4a7c15ull);

	/* uniform: the top 53 bits of the next output. */
	st = 0;
	u = mc_fault_rng_uniform(&st);
	assert_true(u == (double)(0xe220a8397b1dcdafull >> 11) / 9007199254740992.0);
	for (int i = 0; i < 100000; i++) {
		u = mc_fault_rng_uniform(&st);
		assert_true(u >= 0 && u < 1);
	}

	/* stream = mix(mix(mix(seed) ^ entry) ^ sub), mix(x) being next() from state x. */
	st = 11;
	m1 = mc_fault_rng_next(&st);
	st = m1 ^ 2;
	m2 = mc_fault_rng_next(&st);
	st = m2 ^ 5;
	m3 = mc_fault_rng_next(&st);
	assert_int_equal(mc_fault_rng_stream(11, 2, 5), m3);

	/* Streams differ by seed, entry and sub. */
	a = mc_fault_rng_stream(1, 0, 0);
	b = mc_fault_rng_stream(2, 0, 0);
	assert_int_not_equal(a, b);
	assert_int_not_equal(mc_fault_rng_stream(1, 0, 1), mc_fault_rng_stream(1, 1, 1));
	assert_int_not_equal(mc_fault_rng_stream(1, 0, 1), mc_fault_rng_stream(1, 0, 2));
	assert_int_equal(mc_fault_rng_stream(1, 3, 4), mc_fault_rng_stream(1, 3, 4));
}

/* Sample means of many draws against the distributions' means. */
static void test_distribution_means(void **state)
{
	static const struct {
		enum mc_exp_dist dist;
		double shape;
		uint64_t ms;
	} cases[] = {
	        {MC_EXP_WEIBULL, 0.8, 10000},
	        {MC_EXP_WEIBULL, 2.0, 3000},
	        {MC_EXP_WEIBULL, 1.0, 7000},
	        {MC_EXP_EXPONENTIAL, 0, 5000},
	};
	const int n = 400000;

	(void)state;
	for (size_t c = 0; c < MC_ARRAY_SIZE(cases); c++) {
		struct mc_exp_fault f = {.when = MC_EXP_DISTRIBUTION, .dist = cases[c].dist};
		uint64_t st = mc_fault_rng_stream(99, (unsigned)c, 1);
		double sum = 0, mean, want;

		if (f.dist == MC_EXP_WEIBULL) {
			f.shape = cases[c].shape;
			f.scale_ms = cases[c].ms;
			want = (double)f.scale_ms * tgamma(1 + 1 / f.shape);
		} else {
			f.mtbf_ms = cases[c].ms;
			want = (double)f.mtbf_ms;
		}
		for (int i = 0; i < n; i++) {
			double t = mc_fault_draw_ms(&f, &st);

			assert_true(t >= 0);
			sum += t;
		}
		mean = sum / n;
		if (fabs(mean - want) > 0.02 * want)
			fail_msg("case %zu: mean %.1f ms, want %.1f ms (within 2%%)", c, mean,
			         want);
	}
}

/* The same through a plan: one fatal draw per guest, horizon far beyond the scale. */
static void test_schedule_means(void **state)
{
	struct mc_experiment *e;
	struct mc_fault_sched s;
	double sum = 0, want = 15000 * tgamma(1 + 1 / 0.8);
	unsigned char *seen;

	(void)state;
	e = parse_ok("name: t\ncluster: {guests: 20000}\n"
	             "workloads: [{name: w, kind: exec, program: x}]\n"
	             "faults:\n  plan:\n"
	             "    - {kind: crash, distribution: {kind: weibull, shape: 0.8, scale: 15s},"
	             " horizon: 24h}\n");
	schedule_ok(e, 5, &s);
	/* P(T >= 24h) = exp(-(5760)^0.8): every guest fails, exactly once. */
	assert_int_equal(s.n, 20000);
	seen = calloc(20000, 1);
	assert_non_null(seen);
	for (size_t i = 0; i < s.n; i++) {
		const struct mc_fault_planned *p = &s.items[i];

		assert_int_equal(p->n_guests, 1);
		assert_true(p->first_guest < 20000);
		assert_int_equal(seen[p->first_guest], 0);
		seen[p->first_guest] = 1;
		assert_true(p->at_ms < 86400000);
		assert_int_equal(p->duration_ms, 0);
		sum += (double)p->at_ms;
	}
	free(seen);
	if (fabs(sum / 20000 - want) > 0.03 * want)
		fail_msg("mean %.1f ms, want %.1f ms (within 3%%)", sum / 20000, want);
	mc_fault_sched_fini(&s);
	mc_experiment_destroy(&e);
}

/* ---- targets ---- */

static void test_targets(void **state)
{
	static const struct {
		const char *target, *guests;
	} cases[] = {
	        {"g0005", "g0005"},
	        {"g0001-g0003", "g0001,g0002,g0003"},
	        {"4-6", "g0004,g0005,g0006"},
	        {"7", "g0007"},
	        {"\"g0010, 2-3,g0002\"", "g0002,g0003,g0010"},
	        {"g0063", "g0063"},
	        {"\"0-0,g0062-g0063\"", "g0000,g0062,g0063"},
	};
	char text[2048];
	size_t o;
	struct mc_experiment *e;
	struct mc_fault_sched s, s2;
	const struct mc_fault_planned *p;
	unsigned base = MC_ARRAY_SIZE(cases);

	(void)state;
	o = (size_t)snprintf(text, sizeof(text), HEAD);
	for (size_t i = 0; i < MC_ARRAY_SIZE(cases); i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		                      "    - {kind: crash, at: 1s, target: %s}\n", cases[i].target);
	o += (size_t)snprintf(text + o, sizeof(text) - o,
	                      "    - {kind: crash, at: 1s}\n"                         /* +0 */
	                      "    - {kind: crash, at: 1s, target: all}\n"            /* +1 */
	                      "    - {kind: crash, at: 1s, target: random(5)}\n"      /* +2 */
	                      "    - {kind: crash, at: 1s, target: fraction(0.25)}\n" /* +3 */
	                      "    - {kind: crash, at: 1s, target: fraction(1)}\n"    /* +4 */
	                      "    - {kind: crash, at: 1s, target: rank(5)}\n"        /* +5 */
	                      "    - {kind: crash, at: 1s, target: rank(127)}\n"      /* +6 */
	                      "    - {kind: crash, at: 1s, target: random(64)}\n");   /* +7 */
	e = parse_ok(text);
	assert_int_equal(e->n_faults, base + 8);
	schedule_ok(e, 3, &s);
	assert_int_equal(s.n, base + 8);
	for (unsigned i = 0; i < base; i++) {
		p = item_of(&s, i);
		assert_string_equal(p->guests, cases[i].guests);
	}
	/* all, written or by default */
	for (unsigned i = base; i <= base + 1; i++) {
		p = item_of(&s, i);
		assert_int_equal(p->n_guests, 64);
		assert_int_equal(strlen(p->guests), 64 * 6 - 1);
		assert_true(strncmp(p->guests, "g0000,g0001,", 12) == 0);
		assert_string_equal(p->guests + strlen(p->guests) - 6, ",g0063");
	}
	assert_string_equal(e->faults[base].target, "all");
	/* random(5): 5 distinct guests in ascending order */
	p = item_of(&s, base + 2);
	assert_int_equal(p->n_guests, 5);
	assert_int_equal(strlen(p->guests), 5 * 6 - 1);
	for (int k = 0; k < 4; k++)
		assert_true(strncmp(p->guests + k * 6, p->guests + (k + 1) * 6, 5) < 0);
	/* fraction(0.25) of 64: 16 */
	assert_int_equal(item_of(&s, base + 3)->n_guests, 16);
	assert_int_equal(item_of(&s, base + 4)->n_guests, 64);
	/* rank R of ring (ppn 2) is on guest R / 2 */
	assert_string_equal(item_of(&s, base + 5)->guests, "g0002");
	assert_string_equal(item_of(&s, base + 6)->guests, "g0063");
	assert_int_equal(item_of(&s, base + 7)->n_guests, 64);

	/* The same seed picks the same guests; another seed (almost surely) others. */
	schedule_ok(e, 3, &s2);
	assert_string_equal(item_of(&s2, base + 2)->guests, item_of(&s, base + 2)->guests);
	assert_string_equal(item_of(&s2, base + 3)->guests, item_of(&s, base + 3)->guests);
	mc_fault_sched_fini(&s2);
	schedule_ok(e, 4, &s2);
	assert_string_not_equal(item_of(&s2, base + 3)->guests, item_of(&s, base + 3)->guests);
	mc_fault_sched_fini(&s2);
	mc_fault_sched_fini(&s);
	mc_fault_sched_fini(&s); /* emptied: a second fini is harmless */
	assert_null(s.items);
	mc_experiment_destroy(&e);

	/* fraction rounds: 0.3 of 10 guests is 3, 0.05 of 10 is 1 (0.5 rounds up). */
	e = parse_ok("name: t\ncluster: {guests: 10}\nworkloads: [{name: w, kind: exec, program: "
	             "x}]\nfaults:\n  plan:\n    - {kind: crash, at: 0ms, target: fraction(0.3)}\n"
	             "    - {kind: crash, at: 0ms, target: fraction(0.05)}\n");
	schedule_ok(e, 1, &s);
	assert_int_equal(item_of(&s, 0)->n_guests, 3);
	assert_int_equal(item_of(&s, 1)->n_guests, 1);
	mc_fault_sched_fini(&s);
	mc_experiment_destroy(&e);
}

static void test_target_parse(void **state)
{
	static const char *const good[] = {
	        "all",           "g0000",       "g0001-g0063",     "0-7",       "5",
	        "g12345",        "1,2 , 3",     "all,g0001",       "random(1)", "random(65534)",
	        "fraction(0.5)", "fraction(1)", "fraction(0.001)", "rank(0)",   "rank(16776703)",
	};
	static const char *const bad[] = {
	        "",
	        "g12",
	        "g00001",
	        "G0001",
	        "g0001-",
	        "-3",
	        "a-b",
	        "g0001-5",
	        "1,,2",
	        "1,",
	        "random()",
	        "random(0)",
	        "random(65535)",
	        "fraction(0)",
	        "fraction(1.5)",
	        "fraction(.5)",
	        "fraction(x)",
	        "rank(-1)",
	        "rank(16776704)",
	        "rank(1",
	        "g0003-g0001",
	        "9-2",
	        "65534",
	        "g65534",
	        "all()",
	        "x",
	};
	struct mc_fault_target t;
	char why[160];

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_SIZE(good); i++)
		if (mc_fault_target_parse(good[i], &t, why, sizeof(why)))
			fail_msg("\"%s\" rejected: %s", good[i], why);
	for (size_t i = 0; i < MC_ARRAY_SIZE(bad); i++)
		if (mc_fault_target_parse(bad[i], &t, why, sizeof(why)) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(mc_fault_target_parse("random(9)", &t, why, sizeof(why)), 0);
	assert_int_equal(t.kind, MC_FT_RANDOM);
	assert_int_equal(t.k, 9);
	assert_int_equal(mc_fault_target_parse("fraction(0.25)", &t, why, sizeof(why)), 0);
	assert_int_equal(t.kind, MC_FT_FRACTION);
	assert_true(t.fraction == 0.25);
	assert_int_equal(mc_fault_target_parse("rank(12)", &t, why, sizeof(why)), 0);
	assert_int_equal(t.kind, MC_FT_RANK);
	assert_int_equal(t.k, 12);
	assert_int_equal(mc_fault_target_parse("g0002-g0004, 9", &t, why, sizeof(why)), 0);
	assert_int_equal(t.kind, MC_FT_LIST);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.items[0].lo, 2);
	assert_int_equal(t.items[0].hi, 4);
	assert_int_equal(t.items[0].names, 1);
	assert_int_equal(t.items[1].lo, 9);
	assert_int_equal(t.items[1].names, 0);
	{
		unsigned idx = 0;

		assert_int_equal(mc_fault_guest_parse("g0042", &idx), 0);
		assert_int_equal(idx, 42);
		assert_int_equal(mc_fault_guest_parse("g42", &idx), -EINVAL);
		assert_int_equal(mc_fault_guest_parse("h0042", &idx), -EINVAL);
	}
}

/* ---- parsing ---- */

static void test_parse_fields(void **state)
{
	struct mc_experiment *e;
	const struct mc_exp_fault *f;

	(void)state;
	e = parse_ok(HEAD "    - kind: crash\n"                                /* 8 */
	                  "      at: 1500ms\n"                                 /* 9 */
	                  "    - name: burst\n"                                /* 10 */
	                  "      kind: netem\n"                                /* 11 */
	                  "      target: g0001-g0004\n"                        /* 12 */
	                  "      workload: farm\n"                             /* 13 */
	                  "      after: {event: output, match: \"phase 2\"}\n" /* 14 */
	                  "      delay: 2s\n"                                  /* 15 */
	                  "      duration: 5s\n"                               /* 16 */
	                  "      params: {loss: 10%, delay: 50ms}\n"           /* 17 */
	                  "    - kind: hang\n"                                 /* 18 */
	                  "      after: {event: heartbeat, guest: g0003}\n"    /* 19 */
	                  "    - kind: slow-cpu\n"                             /* 20 */
	                  "      distribution: {kind: weibull, shape: 0.8, scale: 20m}\n"
	                  "      horizon: 60s\n"
	                  "      params: {quota: 20%}\n"
	                  "    - kind: reboot\n"
	                  "      distribution: {kind: exponential, mtbf: 10m}\n"
	                  "      horizon: 1h\n"
	                  "      target: rank(3)\n");
	assert_int_equal(e->n_faults, 5);
	assert_int_equal(e->fault_seed_set, 0);

	f = &e->faults[0];
	assert_string_equal(f->name, "crash-0");
	assert_string_equal(f->kind->name, "crash");
	assert_int_equal(f->line, 8);
	assert_string_equal(f->target, "all");
	assert_int_equal(f->workload, 0);
	assert_int_equal(f->when, MC_EXP_AT);
	assert_int_equal(f->at_ms, 1500);
	assert_int_equal(f->duration_ms, 0);
	assert_int_equal(f->n_params, 0);

	f = &e->faults[1];
	assert_string_equal(f->name, "burst");
	assert_string_equal(f->target, "g0001-g0004");
	assert_int_equal(f->target_line, 12);
	assert_int_equal(f->workload, 1);
	assert_int_equal(f->when, MC_EXP_AFTER);
	assert_int_equal(f->event, MC_EXP_EVENT_OUTPUT);
	assert_string_equal(f->match, "phase 2");
	assert_int_equal(f->delay_ms, 2000);
	assert_int_equal(f->duration_ms, 5000);
	assert_int_equal(f->n_params, 2);
	assert_string_equal(f->params[0].key, "loss");
	assert_string_equal(f->params[0].value, "10%");
	assert_string_equal(f->params[1].key, "delay");
	assert_string_equal(f->params[1].value, "50ms");

	f = &e->faults[2];
	assert_string_equal(f->name, "hang-2");
	assert_int_equal(f->event, MC_EXP_EVENT_HEARTBEAT);
	assert_string_equal(f->guest, "g0003");
	assert_int_equal(f->guest_index, 3);
	assert_int_equal(f->guest_line, 19);
	assert_int_equal(f->count, 1);
	assert_int_equal(f->delay_ms, 0);

	f = &e->faults[3];
	assert_int_equal(f->when, MC_EXP_DISTRIBUTION);
	assert_int_equal(f->dist, MC_EXP_WEIBULL);
	assert_true(f->shape == 0.8);
	assert_int_equal(f->scale_ms, 1200000);
	assert_int_equal(f->horizon_ms, 60000);

	f = &e->faults[4];
	assert_int_equal(f->dist, MC_EXP_EXPONENTIAL);
	assert_int_equal(f->mtbf_ms, 600000);
	assert_int_equal(f->horizon_ms, 3600000);
	assert_string_equal(f->target, "rank(3)");

	/* The plan's seed defaults to the experiment's. */
	assert_int_equal(mc_fault_seed(e), 0);
	mc_experiment_destroy(&e);
	e = parse_ok("name: t\nseed: 42\nworkloads: [{name: w, kind: exec, program: x}]\n"
	             "faults: {plan: [{kind: crash, at: 0ms}]}\n");
	assert_int_equal(mc_fault_seed(e), 42);
	mc_experiment_destroy(&e);
	e = parse_ok("name: t\nseed: 42\nworkloads: [{name: w, kind: exec, program: x}]\n"
	             "faults: {seed: 7, plan: [{kind: crash, at: 0ms}]}\n");
	assert_int_equal(e->fault_seed_set, 1);
	assert_int_equal(e->fault_seed, 7);
	assert_int_equal(mc_fault_seed(e), 7);
	mc_experiment_destroy(&e);

	/* Empty sections. */
	e = parse_ok("name: t\nfaults:\n");
	assert_int_equal(e->n_faults, 0);
	assert_null(e->faults);
	mc_experiment_destroy(&e);
	e = parse_ok("name: t\nfaults: {seed: 3, plan: []}\n");
	assert_int_equal(e->n_faults, 0);
	assert_int_equal(e->fault_seed, 3);
	mc_experiment_destroy(&e);
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	        /* The section. */
	        {HEAD "    - {kind: crash, at: 1s}\n  sed: 4\n",
	         "t.yaml:9: faults.sed: unknown field (expected seed, plan)"},
	        {"name: t\nfaults: {seed: -1}\n",
	         "t.yaml:2: faults.seed: expected an integer 0..9223372036854775807, got \"-1\""},
	        {"name: t\nfaults: {plan: {kind: crash}}\n",
	         "t.yaml:2: faults.plan: expected a sequence, got a mapping"},
	        {HEAD "    - crash\n",
	         "t.yaml:8: faults.plan[0]: expected a mapping, got \"crash\""},
	        {"name: t\nfaults:\n  plan:\n    - {kind: crash, at: 1s}\n",
	         "t.yaml:4: faults.plan[0]: a fault needs a workload to time it, and the file has "
	         "none"},
	        /* Fields of an entry. */
	        {HEAD "    - {kind: crash, at: 1s, when: 2s}\n",
	         "t.yaml:8: faults.plan[0].when: unknown field (expected name, kind, target, "
	         "workload, at, after, delay, distribution, horizon, duration, params)"},
	        {HEAD "    - {at: 1s}\n",
	         "t.yaml:8: faults.plan[0].kind: required field is missing"},
	        {HEAD "    - {kind: [crash], at: 1s}\n",
	         "t.yaml:8: faults.plan[0].kind: expected a fault kind, got a sequence"},
	        {HEAD "    - {kind: crash, name: \"-x\", at: 1s}\n",
	         "t.yaml:8: faults.plan[0].name: expected a name of 1-48 letters, digits, '.', '_' "
	         "or '-', starting with a letter or digit, got \"-x\""},
	        {HEAD "    - {kind: crash, at: 1s}\n    - {kind: hang, at: 2s}\n"
	              "    - {kind: reboot, name: crash-0, at: 3s}\n",
	         "t.yaml:10: faults.plan[2].name: duplicate fault name \"crash-0\" (first at "
	         "faults.plan[0], line 8)"},
	        {HEAD "    - {kind: crash, name: hang-1, at: 1s}\n    - {kind: hang, at: 2s}\n",
	         "t.yaml:9: faults.plan[1].name: duplicate fault name \"hang-1\" (first at "
	         "faults.plan[0], line 8)"},
	        /* Workload name unknown. */
	        {HEAD "    - {kind: crash, at: 1s, workload: frm}\n",
	         "t.yaml:8: faults.plan[0].workload: unknown workload \"frm\" (expected ring, "
	         "farm)"},
	        /* Duration on a kind without one. */
	        {HEAD "    - kind: crash\n      at: 1s\n      duration: 5s\n",
	         "t.yaml:10: faults.plan[0].duration: kind crash takes no duration (it is not "
	         "reverted)"},
	        {HEAD "    - {kind: hang, at: 1s, duration: 0ms}\n",
	         "t.yaml:8: faults.plan[0].duration: expected a duration 1ms..24h, got \"0ms\""},
	        /* Parameters: unknown key, bad value, missing required one, none taken. */
	        {HEAD "    - kind: netem\n      at: 1s\n      params:\n        jitter: 1ms\n",
	         "t.yaml:11: faults.plan[0].params.jitter: unknown parameter for kind netem "
	         "(expected delay, loss, duplicate, corrupt)"},
	        {HEAD "    - {kind: crash, at: 1s, params: {signal: KILL}}\n",
	         "t.yaml:8: faults.plan[0].params.signal: kind crash takes no parameters"},
	        {HEAD "    - kind: slow-cpu\n      at: 1s\n      params: {quota: 200%}\n",
	         "t.yaml:10: faults.plan[0].params.quota: expected a percentage above 0 and at "
	         "most 100%, e.g. 20%, got \"200%\""},
	        {HEAD "    - {kind: kill, at: 1s, params: {process: \"a b\"}}\n",
	         "t.yaml:8: faults.plan[0].params.process: expected a name of letters, digits and "
	         "._+- (at most 63), got \"a b\""},
	        {HEAD "    - {kind: disk-error, at: 1s, params: {iotype: all}}\n",
	         "t.yaml:8: faults.plan[0].params.iotype: expected one of read|write|both, got "
	         "\"all\""},
	        {HEAD "    - {kind: netem, at: 1s, params: {loss: [1%]}}\n",
	         "t.yaml:8: faults.plan[0].params.loss: expected a value of at most 63 bytes, got "
	         "a sequence"},
	        {HEAD "    - kind: slow-cpu\n      at: 1s\n",
	         "t.yaml:8: faults.plan[0].params.quota: required parameter is missing"},
	        {HEAD "    - kind: kill\n      at: 1s\n      params: {signal: TERM}\n",
	         "t.yaml:10: faults.plan[0].params.process: required parameter is missing"},
	        {HEAD "    - {kind: netem, at: 1s, params: {loss: 1%, loss: 2%}}\n",
	         "t.yaml:8: faults.plan[0].params.loss: duplicate key (first at line 8)"},
	        /* Exactly one of at, after, distribution. */
	        {HEAD "    - kind: crash\n      at: 1s\n"
	              "      distribution: {kind: exponential, mtbf: 1s}\n      horizon: 5s\n",
	         "t.yaml:10: faults.plan[0].distribution: conflicts with at (line 9): give one of "
	         "at, after or distribution"},
	        {HEAD "    - kind: crash\n      after: {event: output, match: x}\n      at: 1s\n",
	         "t.yaml:10: faults.plan[0].at: conflicts with after (line 9): give one of at, "
	         "after or distribution"},
	        {HEAD "    - {kind: crash, target: all}\n",
	         "t.yaml:8: faults.plan[0]: needs one of at, after or distribution"},
	        {HEAD "    - {kind: crash, at: 1s, delay: 2s}\n",
	         "t.yaml:8: faults.plan[0].delay: only with after"},
	        {HEAD "    - {kind: crash, at: 1s, horizon: 2s}\n",
	         "t.yaml:8: faults.plan[0].horizon: only with distribution"},
	        {HEAD "    - {kind: crash, at: 1}\n",
	         "t.yaml:8: faults.plan[0].at: expected a duration 0ms..24h, got \"1\""},
	        {HEAD "    - {kind: crash, at: 25h}\n",
	         "t.yaml:8: faults.plan[0].at: expected a duration 0ms..24h, got \"25h\""},
	        /* after */
	        {HEAD "    - {kind: crash, after: output}\n",
	         "t.yaml:8: faults.plan[0].after: expected a mapping, got \"output\""},
	        {HEAD "    - {kind: crash, after: {match: x}}\n",
	         "t.yaml:8: faults.plan[0].after.event: required field is missing"},
	        {HEAD "    - {kind: crash, after: {event: exit}}\n",
	         "t.yaml:8: faults.plan[0].after.event: unknown event \"exit\" (expected output, "
	         "heartbeat)"},
	        {HEAD "    - {kind: crash, after: {event: output}}\n",
	         "t.yaml:8: faults.plan[0].after.match: required field is missing"},
	        {HEAD "    - {kind: crash, after: {event: output, match: x, count: 2}}\n",
	         "t.yaml:8: faults.plan[0].after.count: unknown field for event output (expected "
	         "event, match)"},
	        {HEAD "    - {kind: crash, after: {event: heartbeat, count: 2}}\n",
	         "t.yaml:8: faults.plan[0].after.guest: required field is missing"},
	        {HEAD "    - {kind: crash, after: {event: heartbeat, guest: g3}}\n",
	         "t.yaml:8: faults.plan[0].after.guest: expected a guest name like g0003, got "
	         "\"g3\""},
	        {HEAD "    - {kind: crash, after: {event: heartbeat, guest: g0003, count: 0}}\n",
	         "t.yaml:8: faults.plan[0].after.count: expected an integer 1..1000000, got "
	         "\"0\""},
	        {HEAD "    - {kind: crash, after: {event: output, match: x}, delay: soon}\n",
	         "t.yaml:8: faults.plan[0].delay: expected a duration 0ms..24h, got \"soon\""},
	        /* distribution and horizon */
	        {HEAD "    - kind: crash\n      distribution: {kind: weibull, shape: 0.8, "
	              "scale: 20m}\n",
	         "t.yaml:8: faults.plan[0].horizon: required field is missing (distribution "
	         "needs it)"},
	        {HEAD "    - {kind: crash, distribution: {kind: gamma}, horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.kind: unknown distribution \"gamma\" "
	         "(expected exponential, weibull)"},
	        {HEAD "    - {kind: crash, distribution: {mtbf: 1s}, horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.kind: required field is missing"},
	        {HEAD "    - {kind: crash, distribution: {kind: exponential}, horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.mtbf: required field is missing"},
	        {HEAD "    - {kind: crash, distribution: {kind: exponential, mtbf: 1s, shape: 2},"
	              " horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.shape: unknown field for distribution "
	         "exponential (expected kind, mtbf)"},
	        {HEAD "    - {kind: crash, distribution: {kind: weibull, shape: 0, scale: 1s},"
	              " horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.shape: expected a number above 0 and at "
	         "most 100, e.g. 0.8, got \"0\""},
	        {HEAD "    - {kind: crash, distribution: {kind: weibull, shape: 1.5x, scale: 1s},"
	              " horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.shape: expected a number above 0 and at "
	         "most 100, e.g. 0.8, got \"1.5x\""},
	        {HEAD "    - {kind: crash, distribution: {kind: weibull, shape: 1}, horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.scale: required field is missing"},
	        {HEAD "    - {kind: crash, distribution: {kind: exponential, mtbf: 0ms}, "
	              "horizon: 1s}\n",
	         "t.yaml:8: faults.plan[0].distribution.mtbf: expected a duration 1ms..8760h, got "
	         "\"0ms\""},
	        {HEAD "    - {kind: crash, distribution: {kind: exponential, mtbf: 1s}, "
	              "horizon: 2d}\n",
	         "t.yaml:8: faults.plan[0].horizon: expected a duration 1ms..24h, got \"2d\""},
	        /* Target syntax, and rank() on a workload that is not mpi. */
	        {HEAD "    - {kind: crash, at: 1s, target: g12}\n",
	         "t.yaml:8: faults.plan[0].target: expected a target: all, gNNNN, gNNNN-gMMMM, I "
	         "or I-J (comma-separated), random(K), fraction(F) or rank(R), got \"g12\""},
	        {HEAD "    - {kind: crash, at: 1s, target: random(0)}\n",
	         "t.yaml:8: faults.plan[0].target: expected random(K) with K an integer 1..65534, "
	         "got \"random(0)\""},
	        {HEAD "    - {kind: crash, at: 1s, target: fraction(1.5)}\n",
	         "t.yaml:8: faults.plan[0].target: expected fraction(F) with F a number above 0 "
	         "and at most 1, e.g. 0.25, got \"fraction(1.5)\""},
	        {HEAD "    - {kind: crash, at: 1s, target: g0009-g0001}\n",
	         "t.yaml:8: faults.plan[0].target: expected ranges written low-high, e.g. "
	         "g0001-g0063, got \"g0009-g0001\""},
	        {HEAD
	         "    - kind: crash\n      at: 1s\n      workload: farm\n      target: rank(0)\n",
	         "t.yaml:11: faults.plan[0].target: rank(R) needs an mpi workload (workload "
	         "\"farm\" is taskfarm)"},
	};
	char unknown_kind[512];

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_SIZE(cases); i++)
		expect_error(cases[i].text, cases[i].want);

	/* A bad kind lists every kind of the table. */
	assert_true(strncmp(mc_fault_kind_names(), "crash, hang, reboot, slow-cpu", 29) == 0);
	snprintf(unknown_kind, sizeof(unknown_kind),
	         "t.yaml:8: faults.plan[0].kind: unknown kind \"crsh\" (expected %s)",
	         mc_fault_kind_names());
	expect_error(HEAD "    - {kind: crsh, at: 1s}\n", unknown_kind);
}

/* Errors found only against the cluster, naming the entry's line. */
static void test_schedule_errors(void **state)
{
	(void)state;
	expect_sched_error(HEAD "    - {kind: crash, at: 1s}\n    - {kind: crash, at: 1s, "
	                        "target: \"g0001,g0099\"}\n",
	                   "t.yaml:9: faults.plan[1].target: g0099 is outside the cluster (64 "
	                   "guests: g0000-g0063)");
	expect_sched_error(HEAD "    - kind: crash\n      at: 1s\n      target: g0060-g0070\n",
	                   "t.yaml:10: faults.plan[0].target: g0060-g0070 is outside the cluster "
	                   "(64 guests: g0000-g0063)");
	expect_sched_error(HEAD "    - {kind: crash, at: 1s, target: 70-80}\n",
	                   "t.yaml:8: faults.plan[0].target: 70-80 is outside the cluster (64 "
	                   "guests: 0-63)");
	expect_sched_error(HEAD "    - {kind: crash, at: 1s, target: 64}\n",
	                   "t.yaml:8: faults.plan[0].target: 64 is outside the cluster (64 guests: "
	                   "0-63)");
	expect_sched_error(HEAD "    - {kind: crash, at: 1s, target: random(65)}\n",
	                   "t.yaml:8: faults.plan[0].target: random(65) needs 65 guests, the "
	                   "cluster has 64");
	expect_sched_error(HEAD "    - {kind: crash, at: 1s, target: fraction(0.001)}\n",
	                   "t.yaml:8: faults.plan[0].target: fraction(0.001) of 64 guests selects "
	                   "none");
	expect_sched_error(HEAD "    - {kind: crash, at: 1s, target: rank(128)}\n",
	                   "t.yaml:8: faults.plan[0].target: rank(128) is outside workload "
	                   "\"ring\" (128 ranks: 0-127)");
	expect_sched_error(HEAD "    - kind: crash\n      after:\n        event: heartbeat\n"
	                        "        guest: g0100\n",
	                   "t.yaml:11: faults.plan[0].after.guest: g0100 is outside the cluster "
	                   "(64 guests: g0000-g0063)");
	/* Far too many injections: hangs every millisecond on 64 guests for a day. */
	expect_sched_error(HEAD "    - {kind: hang, distribution: {kind: exponential, mtbf: 1ms}, "
	                        "horizon: 24h}\n",
	                   "t.yaml:8: faults.plan[0]: the plan comes to more than 100000 "
	                   "injections");
}

/* ---- the schedule ---- */

static const char *const mixed_plan =
        HEAD "    - {name: late, kind: crash, at: 50s, target: g0001}\n"
             "    - {name: early, kind: netem, at: 1s, duration: 2s, target: g0002-g0003,"
             " params: {loss: 5%}}\n"
             "    - {name: farm-first, kind: reboot, at: 0ms, workload: farm, target: g0004}\n"
             "    - {name: trig, kind: kill, after: {event: output, match: \"phase 2\"},"
             " delay: 3s, params: {process: mc-ring, signal: TERM}}\n"
             "    - {name: beat, kind: hang, after: {event: heartbeat, guest: g0007, count: 5},"
             " duration: 1s, target: g0007}\n"
             "    - {name: wb, kind: crash, target: g0001-g0063,"
             " distribution: {kind: weibull, shape: 0.8, scale: 2m}, horizon: 60s}\n"
             "    - {name: hangs, kind: hang, workload: farm, target: random(8), duration: 1s,"
             " distribution: {kind: exponential, mtbf: 2s}, horizon: 60s}\n"
             "    - {name: same-time, kind: crash, at: 1s, target: g0000}\n";

static void test_schedule_content(void **state)
{
	struct mc_experiment *e = parse_ok(mixed_plan);
	struct mc_fault_sched s;
	const struct mc_fault_planned *p;
	unsigned n_wb = 0, n_hangs = 0;

	(void)state;
	schedule_ok(e, 11, &s);

	/* Sorted by (workload, at, entry, first guest). */
	for (size_t i = 1; i < s.n; i++) {
		const struct mc_fault_planned *a = &s.items[i - 1], *b = &s.items[i];
		int ok = a->workload_index < b->workload_index ||
		         (a->workload_index == b->workload_index &&
		          (a->at_ms < b->at_ms ||
		           (a->at_ms == b->at_ms &&
		            (a->entry < b->entry ||
		             (a->entry == b->entry && a->first_guest <= b->first_guest)))));

		if (!ok)
			fail_msg("items %zu and %zu out of order: (%u, %llu, %u, %u) then (%u, "
			         "%llu, "
			         "%u, %u)",
			         i - 1, i, a->workload_index, (unsigned long long)a->at_ms,
			         a->entry, a->first_guest, b->workload_index,
			         (unsigned long long)b->at_ms, b->entry, b->first_guest);
	}
	/* ring's items first: at 0 (triggered, delay 0... none), then by time */
	assert_int_equal(s.items[s.n - 1].workload_index, 1);
	assert_int_equal(s.items[0].workload_index, 0);

	p = item_of(&s, 1);
	assert_string_equal(p->name, "early");
	assert_string_equal(p->kind->name, "netem");
	assert_string_equal(p->workload, "ring");
	assert_int_equal(p->triggered, 0);
	assert_int_equal(p->at_ms, 1000);
	assert_int_equal(p->duration_ms, 2000);
	assert_string_equal(p->guests, "g0002,g0003");
	assert_int_equal(p->n_guests, 2);
	assert_int_equal(p->first_guest, 2);
	assert_int_equal(p->n_params, 1);
	assert_string_equal(p->params[0].key, "loss");
	assert_string_equal(p->params[0].value, "5%");
	/* "early" (entry 1) before "same-time" (entry 7), both at 1s */
	assert_true(item_of(&s, 1) < item_of(&s, 7));

	p = item_of(&s, 2);
	assert_string_equal(p->workload, "farm");
	assert_int_equal(p->workload_index, 1);
	assert_int_equal(p->at_ms, 0);

	p = item_of(&s, 3);
	assert_int_equal(p->triggered, 1);
	assert_int_equal(p->event, MC_EXP_EVENT_OUTPUT);
	assert_string_equal(p->match, "phase 2");
	assert_int_equal(p->at_ms, 3000);
	assert_int_equal(p->n_guests, 64);
	assert_int_equal(p->n_params, 2);
	assert_string_equal(p->params[1].value, "TERM");

	p = item_of(&s, 4);
	assert_int_equal(p->event, MC_EXP_EVENT_HEARTBEAT);
	assert_string_equal(p->guest, "g0007");
	assert_int_equal(p->count, 5);
	assert_int_equal(p->duration_ms, 1000);

	/* Weibull crashes: fatal, so at most one per guest, all before the horizon. */
	{
		unsigned char seen[64] = {0};

		for (size_t i = 0; i < s.n; i++) {
			p = &s.items[i];
			if (p->entry != 5)
				continue;
			n_wb++;
			assert_int_equal(p->n_guests, 1);
			assert_true(p->first_guest >= 1 && p->first_guest <= 63);
			assert_int_equal(seen[p->first_guest], 0);
			seen[p->first_guest] = 1;
			assert_true(p->at_ms < 60000);
		}
	}
	/* P(T < 60s) = 1 - exp(-(0.5)^0.8) = 0.44: some 28 of 63. */
	if (n_wb < 15 || n_wb > 42)
		fail_msg("%u Weibull crashes, expected about 28", n_wb);

	/* Exponential hangs on 8 random guests: renewals that never overlap on a guest. */
	{
		uint64_t last_end[64];
		unsigned guests = 0;

		memset(last_end, 0, sizeof(last_end));
		for (size_t i = 0; i < s.n; i++) {
			p = &s.items[i];
			if (p->entry != 6)
				continue;
			n_hangs++;
			assert_int_equal(p->n_guests, 1);
			assert_int_equal(p->duration_ms, 1000);
			assert_true(p->at_ms < 60000);
			if (last_end[p->first_guest] == 0)
				guests++;
			else if (p->at_ms + 1 < last_end[p->first_guest])
				fail_msg("hang at %llu on g%04u before the previous one ended at "
				         "%llu",
				         (unsigned long long)p->at_ms, p->first_guest,
				         (unsigned long long)last_end[p->first_guest]);
			last_end[p->first_guest] = p->at_ms + p->duration_ms;
		}
		assert_int_equal(guests, 8);
	}
	/* 60s / (2s up + 1s down) = 20 per guest, 160 in all. */
	if (n_hangs < 120 || n_hangs > 200)
		fail_msg("%u hangs, expected about 160", n_hangs);
	assert_int_equal(count_of(&s, 0) + count_of(&s, 1) + count_of(&s, 2) + count_of(&s, 3) +
	                         count_of(&s, 4) + count_of(&s, 7),
	                 6);
	assert_int_equal(s.n, 6 + n_wb + n_hangs);
	mc_fault_sched_fini(&s);
	mc_experiment_destroy(&e);
}

static void test_determinism(void **state)
{
	struct mc_experiment *e = parse_ok(mixed_plan), *e2 = parse_ok(mixed_plan);
	struct mc_fault_sched a, b, c;
	char *ja, *jb, *jc;

	(void)state;
	schedule_ok(e, 1234, &a);
	schedule_ok(e2, 1234, &b);
	schedule_ok(e, 1235, &c);
	ja = sched_dumps(&a);
	jb = sched_dumps(&b);
	jc = sched_dumps(&c);
	assert_string_equal(ja, jb);
	assert_string_not_equal(ja, jc);
	/* The fixed-time entries do not depend on the seed. */
	assert_string_equal(item_of(&a, 1)->guests, item_of(&c, 1)->guests);
	assert_int_equal(item_of(&a, 1)->at_ms, item_of(&c, 1)->at_ms);
	free(ja);
	free(jb);
	free(jc);
	mc_fault_sched_fini(&a);
	mc_fault_sched_fini(&b);
	mc_fault_sched_fini(&c);

	/* A guest's draws depend on (seed, entry, guest) only, not on the rest of its target. */
	{
		struct mc_experiment *x = parse_ok(
		        HEAD "    - {kind: crash, target: g0005, distribution: {kind: exponential,"
		             " mtbf: 10s}, horizon: 24h}\n");
		struct mc_experiment *y = parse_ok(
		        HEAD "    - {kind: crash, target: all, distribution: {kind: exponential,"
		             " mtbf: 10s}, horizon: 24h}\n");
		uint64_t at = 0;

		schedule_ok(x, 9, &a);
		schedule_ok(y, 9, &b);
		assert_int_equal(a.n, 1);
		assert_int_equal(b.n, 64);
		for (size_t i = 0; i < b.n; i++)
			if (b.items[i].first_guest == 5)
				at = b.items[i].at_ms;
		assert_int_equal(at, a.items[0].at_ms);
		/* And it is the spec's first draw from stream (9, 0, 1 + 5). */
		{
			uint64_t st = mc_fault_rng_stream(9, 0, 6);
			double t = -10000.0 * log1p(-mc_fault_rng_uniform(&st));

			assert_int_equal(a.items[0].at_ms, (uint64_t)llround(t));
		}
		mc_fault_sched_fini(&a);
		mc_fault_sched_fini(&b);
		mc_experiment_destroy(&x);
		mc_experiment_destroy(&y);
	}
	mc_experiment_destroy(&e);
	mc_experiment_destroy(&e2);
}

static void test_json_and_print(void **state)
{
	struct mc_experiment *e = parse_ok(mixed_plan);
	struct mc_fault_sched s;
	json_t *j, *o, *after;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	(void)state;
	schedule_ok(e, 11, &s);
	j = mc_fault_sched_to_json(&s);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), s.n);
	o = json_array_get(j, (size_t)(item_of(&s, 1) - s.items));
	assert_int_equal(json_integer_value(json_object_get(o, "entry")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "early");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "netem");
	assert_string_equal(json_string_value(json_object_get(o, "workload")), "ring");
	assert_int_equal(json_integer_value(json_object_get(o, "at_ms")), 1000);
	assert_null(json_object_get(o, "after"));
	assert_int_equal(json_integer_value(json_object_get(o, "duration_ms")), 2000);
	assert_int_equal(json_array_size(json_object_get(o, "guests")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "guests"), 1)),
	                    "g0003");
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(o, "params"), "loss")), "5%");
	o = json_array_get(j, (size_t)(item_of(&s, 4) - s.items));
	after = json_object_get(o, "after");
	assert_null(json_object_get(o, "at_ms"));
	assert_string_equal(json_string_value(json_object_get(after, "event")), "heartbeat");
	assert_string_equal(json_string_value(json_object_get(after, "guest")), "g0007");
	assert_int_equal(json_integer_value(json_object_get(after, "count")), 5);
	assert_int_equal(json_integer_value(json_object_get(after, "delay_ms")), 0);
	o = json_array_get(j, (size_t)(item_of(&s, 3) - s.items));
	after = json_object_get(o, "after");
	assert_string_equal(json_string_value(json_object_get(after, "match")), "phase 2");
	assert_int_equal(json_integer_value(json_object_get(after, "delay_ms")), 3000);
	assert_int_equal(json_array_size(json_object_get(o, "guests")), 64);
	json_decref(j);

	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	mc_fault_sched_print(&s, fp);
	fclose(fp);
	assert_non_null(strstr(buf, "WORKLOAD"));
	assert_non_null(strstr(buf, "TIME"));
	assert_non_null(strstr(buf, "GUESTS"));
	assert_non_null(strstr(buf, "1.000s"));
	assert_non_null(strstr(buf, "g0002,g0003"));
	assert_non_null(strstr(buf, "loss=5%"));
	assert_non_null(strstr(buf, "process=mc-ring signal=TERM"));
	assert_non_null(strstr(buf, "output \"phase 2\" +3.000s"));
	assert_non_null(strstr(buf, "heartbeat g0007 #5 +0.000s"));
	assert_non_null(strstr(buf, " g0000-g0063 ")); /* runs of guests as ranges */
	{
		/* One line per item plus the header. */
		size_t lines = 0;

		for (char *c = buf; *c; c++)
			lines += *c == '\n';
		assert_int_equal(lines, s.n + 1);
	}
	free(buf);
	mc_fault_sched_fini(&s);

	/* Long lists are cut at a comma, with the count. */
	mc_experiment_destroy(&e);
	e = parse_ok(HEAD
	             "    - {kind: crash, at: 0ms, target: \"0,2,4,6,8-10,12,14,16,18,20\"}\n");
	schedule_ok(e, 1, &s);
	buf = NULL;
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	mc_fault_sched_print(&s, fp);
	fclose(fp);
	if (!strstr(buf, " g0000,g0002,g0004,g0006,g0008-g0010,... (12) "))
		fail_msg("no shortened list in:\n%s", buf);
	free(buf);
	mc_fault_sched_fini(&s);

	/* An empty plan. */
	buf = NULL;
	fp = open_memstream(&buf, &len);
	assert_non_null(fp);
	mc_fault_sched_print(&s, fp);
	fclose(fp);
	assert_string_equal(buf, "no faults planned\n");
	free(buf);
	j = mc_fault_sched_to_json(&s);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	mc_experiment_destroy(&e);
}

/* The plan in the experiment's JSON (spec.json), which parses back to the same plan. */
static void test_experiment_json(void **state)
{
	struct mc_experiment *e = parse_ok(mixed_plan), *again;
	json_t *j, *plan, *f;
	char *a, *b, err[512];

	(void)state;
	j = mc_experiment_to_json(e);
	assert_non_null(j);
	assert_null(json_object_get(json_object_get(j, "faults"), "seed"));
	plan = json_object_get(json_object_get(j, "faults"), "plan");
	assert_int_equal(json_array_size(plan), 8);
	f = json_array_get(plan, 0);
	assert_string_equal(json_string_value(json_object_get(f, "at")), "50s");
	assert_string_equal(json_string_value(json_object_get(f, "target")), "g0001");
	assert_string_equal(json_string_value(json_object_get(f, "workload")), "ring");
	f = json_array_get(plan, 5);
	assert_true(json_real_value(json_object_get(json_object_get(f, "distribution"), "shape")) ==
	            0.8);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(f, "distribution"), "scale")),
	        "2m");
	assert_string_equal(json_string_value(json_object_get(f, "horizon")), "1m");
	f = json_array_get(plan, 3);
	assert_string_equal(json_string_value(json_object_get(f, "delay")), "3s");
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(f, "after"), "match")),
	        "phase 2");

	a = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	again = mc_experiment_parse(a, strlen(a), "json", err, sizeof(err));
	if (!again)
		fail_msg("%s\n%s", err, a);
	j = mc_experiment_to_json(again);
	b = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	assert_string_equal(a, b);
	free(a);
	free(b);
	mc_experiment_destroy(&again);
	mc_experiment_destroy(&e);

	/* No faults section: no faults key. */
	e = parse_ok("name: t\n");
	j = mc_experiment_to_json(e);
	assert_null(json_object_get(j, "faults"));
	json_decref(j);
	mc_experiment_destroy(&e);
}

static void test_example(void **state)
{
	char err[512] = "", path[4096];
	struct mc_experiment *e;
	struct mc_fault_sched s, s2;
	const struct mc_fault_planned *p;
	unsigned crashes = 0;
	char *a, *b;

	(void)state;
	snprintf(path, sizeof(path), "%s/faults-weibull.yaml", MC_EXPERIMENTS_DIR);
	e = mc_experiment_load(path, err, sizeof(err));
	if (!e)
		fail_msg("%s", err);
	assert_int_equal(e->cluster.guests, 64);
	assert_int_equal(e->n_faults, 3);
	assert_int_equal(mc_fault_seed(e), 7);
	schedule_ok(e, mc_fault_seed(e), &s);
	assert_true(s.n >= 3);
	for (size_t i = 0; i < s.n; i++) {
		p = &s.items[i];
		if (p->entry != 0)
			continue;
		crashes++;
		assert_string_equal(p->kind->name, "crash");
		assert_true(p->first_guest >= 1 && p->first_guest <= 63);
		assert_true(p->at_ms < 60000);
	}
	if (crashes < 1 || crashes > 15)
		fail_msg("%u crashes in the example, expected a handful", crashes);
	p = item_of(&s, 1);
	assert_string_equal(p->name, "net-burst");
	assert_int_equal(p->at_ms, 20000);
	assert_int_equal(p->duration_ms, 5000);
	assert_int_equal(p->n_guests, 10);
	assert_string_equal(p->guests, "g0010,g0011,g0012,g0013,g0014,g0015,g0016,g0017,g0018,"
	                               "g0019");
	p = item_of(&s, 2);
	assert_string_equal(p->kind->name, "slow-cpu");
	assert_int_equal(p->n_guests, 4);
	assert_string_equal(p->params[0].value, "20%");
	/* Reproducible. */
	schedule_ok(e, mc_fault_seed(e), &s2);
	a = sched_dumps(&s);
	b = sched_dumps(&s2);
	assert_string_equal(a, b);
	free(a);
	free(b);
	mc_fault_sched_fini(&s);
	mc_fault_sched_fini(&s2);
	mc_experiment_destroy(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rng),
	        cmocka_unit_test(test_distribution_means),
	        cmocka_unit_test(test_schedule_means),
	        cmocka_unit_test(test_targets),
	        cmocka_unit_test(test_target_parse),
	        cmocka_unit_test(test_parse_fields),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_schedule_errors),
	        cmocka_unit_test(test_schedule_content),
	        cmocka_unit_test(test_determinism),
	        cmocka_unit_test(test_json_and_print),
	        cmocka_unit_test(test_experiment_json),
	        cmocka_unit_test(test_example),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
