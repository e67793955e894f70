/* test_policy.c — policies: registry, built-ins' decisions, Young/Daly, external .so, file
 * sections. */
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
#include "policies/policy.h"
#include "simulate.h"
#include "util.h"

/* |a - b| <= eps, printing both (this cmocka has no assert_double_equal). */
#define assert_near(a, b, eps)                                                                     \
	do {                                                                                       \
		double a_ = (a), b_ = (b);                                                         \
		if (!(fabs(a_ - b_) <= (eps)))                                                     \
			fail_msg("%s = %.9g, expected %.9g (within %g)", #a, a_, b_,               \
			         (double)(eps));                                                   \
	} while (0)

#ifndef MC_POLICY_EXAMPLE
#error "MC_POLICY_EXAMPLE (the built tests/unit/data/policy_example.c) must be defined"
#endif

/* ---- helpers ---- */

static struct mc_policy_env env_of(const struct mc_policy_param *params, unsigned n)
{
	struct mc_policy_env env = {
	        .nodes = 100,
	        .work_s = 36000,
	        .checkpoint_s = 60,
	        .restart_s = 120,
	        .migrate_s = 10,
	        .node_mtbf_s = 8640000,
	        .system_mtbf_s = 86400,
	        .lead_s = 30,
	        .recall = 0.8,
	        .precision = 0.9,
	        .n_params = n,
	        .params = params,
	};

	return env;
}

static struct mc_policy *new_ok(const char *name, const struct mc_policy_env *env)
{
	char err[512] = "";
	struct mc_policy *p = mc_policy_new(name, env, err, sizeof(err));

	if (!p)
		fail_msg("mc_policy_new(%s): %s", name, err);
	return p;
}

static void new_fails(const char *name, const struct mc_policy_env *env, const char *want)
{
	char err[1024] = "";
	struct mc_policy *p = mc_policy_new(name, env, err, sizeof(err));

	if (p) {
		mc_policy_destroy(&p);
		fail_msg("mc_policy_new(%s) succeeded, wanted: %s", name, want);
	}
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
}

static struct mc_policy_job job_at(double now)
{
	struct mc_policy_job j = {
	        .now_s = now,
	        .work_s = 36000,
	        .done_s = now,
	        .saved_s = 0,
	        .nodes = 100,
	        .spares_left = UINT64_MAX,
	};

	return j;
}

/* Calls decide for an event of kind at now; returns the answer. */
static struct mc_policy_out decide(struct mc_policy *p, enum mc_policy_event_kind kind, double now,
                                   const struct mc_policy_job *job,
                                   const struct mc_policy_event *extra)
{
	struct mc_policy_event ev = {0};
	struct mc_policy_out out;
	char err[256] = "";

	if (extra)
		ev = *extra;
	ev.kind = kind;
	ev.now_s = now;
	out.wake_s = -1;
	if (mc_policy_decide(p, &ev, job, &out, err, sizeof(err)))
		fail_msg("decide: %s", err);
	return out;
}

/* Records collected by the recorder. */
struct records {
	unsigned n;
	struct mc_policy_record r[32];
};

static void collect(void *ctx, const struct mc_policy_record *r)
{
	struct records *rs = ctx;

	if (rs->n < 32)
		rs->r[rs->n++] = *r;
}

/* ---- the registry ---- */

static void test_registry(void **state)
{
	struct mc_policy_env env = env_of(NULL, 0);
	struct mc_policy *p;
	unsigned n = 0;

	(void)state;
	for (size_t i = 0; mc_policy_builtins[i]; i++, n++) {
		assert_int_equal(mc_policy_builtins[i]->abi, MC_POLICY_ABI);
		assert_ptr_equal(mc_policy_builtin(mc_policy_builtins[i]->name),
		                 mc_policy_builtins[i]);
		assert_non_null(mc_policy_builtins[i]->help);
	}
	assert_int_equal(n, 3);
	assert_non_null(mc_policy_builtin("none"));
	assert_non_null(mc_policy_builtin("checkpoint-restart"));
	assert_non_null(mc_policy_builtin("proactive-migrate"));
	assert_null(mc_policy_builtin("nonesuch"));
	assert_true(mc_policy_is_path("./x.so"));
	assert_true(mc_policy_is_path("libx.so"));
	assert_true(mc_policy_is_path("/opt/p"));
	assert_false(mc_policy_is_path("none"));
	new_fails("nonesuch", &env,
	          "unknown policy \"nonesuch\" (expected none, checkpoint-restart, "
	          "proactive-migrate, or a PATH.so)");
	p = new_ok("none", &env);
	assert_string_equal(mc_policy_ops_of(p)->name, "none");
	mc_policy_destroy(&p);
	assert_null(p);
	mc_policy_destroy(&p);
	mc_policy_destroy(NULL);
	assert_string_equal(mc_policy_event_name(MC_POLICY_EV_WARNING), "warning");
	assert_string_equal(mc_policy_act_name(MC_POLICY_MIGRATE), "migrate");
}

static void test_none(void **state)
{
	struct mc_policy_env env = env_of(NULL, 0);
	struct mc_policy_param bad = {"interval", "10m"};
	struct mc_policy_job job = job_at(100);
	struct mc_policy_event w = {.node = 3, .predicted_s = 130, .signal = 0.9};
	struct mc_policy *p = new_ok("none", &env);
	struct mc_policy_out out;

	(void)state;
	out = decide(p, MC_POLICY_EV_START, 0, &job, NULL);
	assert_int_equal(out.n, 0);
	assert_true(out.wake_s < 0);
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.n, 0);
	mc_policy_destroy(&p);
	env = env_of(&bad, 1);
	new_fails("none", &env, "policy none: interval: none takes no parameters");
}

/* ---- Young / Daly ---- */

static void test_young_daly(void **state)
{
	double iv;

	(void)state;
	assert_near(mc_policy_young(60, 86400), sqrt(2.0 * 60 * 86400), 1e-9);
	assert_near(mc_policy_young(60, 86400), 3219.9378, 1e-3);
	/* Daly: sqrt(2CM)(1 + sqrt(C/2M)/3 + C/(2M)/9) - C */
	{
		double c = 60, m = 86400, x = c / (2 * m);
		double want = sqrt(2 * c * m) * (1 + sqrt(x) / 3 + x / 9) - c;

		assert_near(mc_policy_daly(c, m), want, 1e-9);
		assert_true(fabs(mc_policy_daly(c, m) - mc_policy_young(c, m)) < 0.02 * want);
	}
	assert_near(mc_policy_daly(300, 100), 100, 1e-12); /* C >= 2M: M */
	assert_near(mc_policy_young(0, 100), 0, 0);
	assert_near(mc_policy_young(10, 0), 0, 0);
	assert_int_equal(mc_policy_parse_interval("auto", 60, 86400, &iv), 0);
	assert_near(iv, mc_policy_young(60, 86400), 1e-9);
	assert_int_equal(mc_policy_parse_interval("daly", 60, 86400, &iv), 0);
	assert_near(iv, mc_policy_daly(60, 86400), 1e-9);
	assert_int_equal(mc_policy_parse_interval("10m", 60, 86400, &iv), 0);
	assert_near(iv, 600, 0);
	assert_int_equal(mc_policy_parse_interval("500ms", 60, 86400, &iv), 0);
	assert_near(iv, 0.5, 0);
	assert_int_equal(mc_policy_parse_interval("none", 60, 86400, &iv), 0);
	assert_near(iv, 0, 0);
	assert_int_equal(mc_policy_parse_interval("10", 60, 86400, &iv), -EINVAL);
	assert_int_equal(mc_policy_parse_interval("0s", 60, 86400, &iv), -EINVAL);
	assert_int_equal(mc_policy_parse_interval("soon", 60, 86400, &iv), -EINVAL);
}

/* ---- checkpoint-restart ---- */

static void test_checkpoint_restart(void **state)
{
	struct mc_policy_param p10 = {"interval", "10m"}, pauto = {"interval", "auto"},
	                       pbad = {"interval", "often"}, punk = {"every", "10m"};
	struct mc_policy_env env = env_of(&p10, 1);
	struct mc_policy_job job = job_at(0);
	struct records rs = {0};
	struct mc_policy *p = new_ok("checkpoint-restart", &env);
	struct mc_policy_out out;

	(void)state;
	mc_policy_set_recorder(p, collect, &rs);
	out = decide(p, MC_POLICY_EV_START, 0, &job, NULL);
	assert_int_equal(out.n, 0);
	assert_near(out.wake_s, 600, 0);
	job = job_at(600);
	out = decide(p, MC_POLICY_EV_TIMER, 600, &job, NULL);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.acts[0].act, MC_POLICY_CHECKPOINT);
	assert_int_equal(rs.n, 1);
	assert_near(rs.r[0].time_s, 600, 0);
	assert_int_equal(rs.r[0].event, MC_POLICY_EV_TIMER);
	assert_int_equal(rs.r[0].action.act, MC_POLICY_CHECKPOINT);
	assert_string_equal(rs.r[0].policy, "checkpoint-restart");
	assert_non_null(strstr(rs.r[0].action.reason, "600.0s"));
	out = decide(p, MC_POLICY_EV_CHECKPOINTED, 660, &job, NULL);
	assert_near(out.wake_s, 1260, 0);
	/* While restarting: no checkpoint; a failure disarms, resuming re-arms. */
	out = decide(p, MC_POLICY_EV_FAILURE, 700, &job, NULL);
	assert_true(out.wake_s < 0);
	job.restarting = 1;
	out = decide(p, MC_POLICY_EV_TIMER, 750, &job, NULL);
	assert_int_equal(out.n, 0);
	job.restarting = 0;
	out = decide(p, MC_POLICY_EV_RESUMED, 820, &job, NULL);
	assert_near(out.wake_s, 1420, 0);
	/* A refusal is recorded too. */
	mc_policy_refused(p, 900, &(struct mc_policy_event){.kind = MC_POLICY_EV_TIMER},
	                  &out.acts[0], "a checkpoint is under way");
	assert_int_equal(rs.n, 2);
	assert_true(rs.r[1].refused);
	assert_string_equal(rs.r[1].why, "a checkpoint is under way");
	mc_policy_destroy(&p);

	/* auto: Young against the system MTBF. */
	env = env_of(&pauto, 1);
	p = new_ok("checkpoint-restart", &env);
	job = job_at(0);
	out = decide(p, MC_POLICY_EV_START, 0, &job, NULL);
	assert_near(out.wake_s, mc_policy_young(60, 86400), 1e-9);
	mc_policy_destroy(&p);
	env = env_of(NULL, 0); /* default auto */
	p = new_ok("checkpoint-restart", &env);
	out = decide(p, MC_POLICY_EV_START, 0, &job, NULL);
	assert_near(out.wake_s, mc_policy_young(60, 86400), 1e-9);
	mc_policy_destroy(&p);

	env = env_of(&pbad, 1);
	new_fails("checkpoint-restart", &env,
	          "policy checkpoint-restart: interval: expected a duration (10m, 90s), auto "
	          "(Young), daly or none, got \"often\"");
	env = env_of(&punk, 1);
	new_fails("checkpoint-restart", &env,
	          "policy checkpoint-restart: every: unknown parameter (expected interval)");
}

/* ---- proactive-migrate ---- */

static void test_proactive_migrate(void **state)
{
	struct mc_policy_param sig = {"min_signal", "0.95"}, iv = {"interval", "auto"},
	                       bad = {"fallback", "pray"};
	struct mc_policy_env env = env_of(NULL, 0);
	struct mc_policy_job job = job_at(100);
	struct mc_policy_event w = {.node = 7, .signal = 0.9};
	struct mc_policy *p = new_ok("proactive-migrate", &env);
	struct mc_policy_out out;

	(void)state;
	out = decide(p, MC_POLICY_EV_START, 0, &job, NULL);
	assert_true(out.wake_s < 0); /* interval none by default */
	/* 30s ahead, migration takes 10s: migrate. */
	w.predicted_s = 130;
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.acts[0].act, MC_POLICY_MIGRATE);
	assert_int_equal(out.acts[0].node, 7);
	/* 5s ahead: too late to migrate (10s) and to checkpoint (60s): nothing. */
	w.predicted_s = 105;
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.acts[0].act, MC_POLICY_NOTHING);
	/* No spares left, 90s ahead: checkpoint instead. */
	job.spares_left = 0;
	w.predicted_s = 190;
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.acts[0].act, MC_POLICY_CHECKPOINT);
	mc_policy_destroy(&p);

	/* Migration slower than the lead, checkpoint fits: checkpoint. */
	env = env_of(NULL, 0);
	env.migrate_s = 120;
	p = new_ok("proactive-migrate", &env);
	job = job_at(100);
	w.predicted_s = 190;
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.acts[0].act, MC_POLICY_CHECKPOINT);
	mc_policy_destroy(&p);

	/* min_signal above the warning's signal: ignored. */
	env = env_of(&sig, 1);
	p = new_ok("proactive-migrate", &env);
	w.predicted_s = 130;
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.acts[0].act, MC_POLICY_NOTHING);
	mc_policy_destroy(&p);

	/* interval auto: Young against the unpredicted failures, M / (1 - recall). */
	env = env_of(&iv, 1);
	p = new_ok("proactive-migrate", &env);
	out = decide(p, MC_POLICY_EV_START, 0, &job, NULL);
	assert_near(out.wake_s, mc_policy_young(60, 86400 / (1 - 0.8)), 1e-6);
	out = decide(p, MC_POLICY_EV_TIMER, out.wake_s, &job, NULL);
	assert_int_equal(out.acts[0].act, MC_POLICY_CHECKPOINT);
	mc_policy_destroy(&p);

	env = env_of(&bad, 1);
	new_fails("proactive-migrate", &env,
	          "policy proactive-migrate: fallback: expected checkpoint or none, got \"pray\"");
}

/* ---- external policies ---- */

static void test_external(void **state)
{
	struct mc_policy_param ml = {"min_lead", "20s"}, bad = {"min_lead", "soon"};
	struct mc_policy_env env = env_of(&ml, 1);
	struct mc_policy_job job = job_at(100);
	struct mc_policy_event w = {.node = 2, .predicted_s = 130, .signal = 0.9};
	struct records rs = {0};
	struct mc_policy *p = new_ok(MC_POLICY_EXAMPLE, &env);
	struct mc_policy_out out;

	(void)state;
	assert_string_equal(mc_policy_ops_of(p)->name, "example-checkpoint-on-warning");
	mc_policy_set_recorder(p, collect, &rs);
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.acts[0].act, MC_POLICY_CHECKPOINT);
	assert_string_equal(out.acts[0].reason, "warning #1 about node 2");
	w.predicted_s = 110; /* 10s < min_lead 20s */
	out = decide(p, MC_POLICY_EV_WARNING, 100, &job, &w);
	assert_int_equal(out.n, 0);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.r[0].policy, "example-checkpoint-on-warning");
	mc_policy_destroy(&p);

	env = env_of(&bad, 1);
	new_fails(MC_POLICY_EXAMPLE, &env,
	          "policy example-checkpoint-on-warning: min_lead: expected seconds like 10s, "
	          "got \"soon\"");
	env = env_of(NULL, 0);
	new_fails(MC_POLICY_EXAMPLE_BADABI, &env,
	          ": policy ABI 99, microcosm expects 1 (rebuild it against this microcosm's "
	          "harness/policies/policy.h)");
	new_fails(MC_POLICY_EXAMPLE_NOSYM, &env,
	          ": no symbol mc_policy (an external policy defines const struct mc_policy_ops "
	          "mc_policy; see docs/policies.md)");
	new_fails("/nonexistent/policy.so", &env, "/nonexistent/policy.so: cannot load: ");
}

/* ---- the experiment file's sections ---- */

#define HEAD                                                                                       \
	"name: t\n"                                                                                \
	"cluster: {guests: 8}\n"                                                                   \
	"workloads:\n"                                                                             \
	"  - {name: ring, kind: mpi, program: mc-ring}\n"

static void expect_error(const char *text, const char *want)
{
	char err[1024] = "";
	struct mc_experiment *e =
	        mc_experiment_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	if (e) {
		mc_experiment_destroy(&e);
		fail_msg("parsed, but wanted the error: %s\n--- input ---\n%s", want, text);
	}
	assert_string_equal(err, want);
}

static struct mc_experiment *parse_ok(const char *text)
{
	char err[1024] = "";
	struct mc_experiment *e =
	        mc_experiment_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	if (!e)
		fail_msg("unexpected error: %s\n--- input ---\n%s", err, text);
	return e;
}

static void test_sections(void **state)
{
	struct mc_experiment *e;

	(void)state;
	e = parse_ok(HEAD "prediction: {lead: 30s}\n"
	                  "policy: {name: checkpoint-restart, params: {interval: 10m}}\n"
	                  "simulate: {work: 2h, checkpoint_cost: measured, restart_cost: 1m,\n"
	                  "  nodes: 100000, spares: 12, failures: plan, limit: 48h}\n");
	assert_true(e->prediction.set);
	assert_int_equal(e->prediction.lead_ms, 30000);
	assert_near(e->prediction.recall, 1, 0);
	assert_near(e->prediction.precision, 1, 0);
	assert_true(e->policy.set);
	assert_string_equal(e->policy.name, "checkpoint-restart");
	assert_int_equal(e->policy.n_params, 1);
	assert_string_equal(e->policy.params[0].key, "interval");
	assert_string_equal(e->policy.params[0].value, "10m");
	assert_true(e->simulate.set);
	assert_int_equal(e->simulate.work_ms, 7200000);
	assert_true(e->simulate.checkpoint.measured);
	assert_int_equal(e->simulate.checkpoint.line, 7);
	assert_int_equal(e->simulate.restart.ms, 60000);
	assert_int_equal(e->simulate.migrate.ms, 0);
	assert_int_equal(e->simulate.nodes, 100000);
	assert_true(e->simulate.spares_limited);
	assert_int_equal(e->simulate.spares, 12);
	assert_true(e->simulate.plan_failures);
	assert_int_equal(e->simulate.limit_ms, 48 * 3600000ull);
	mc_experiment_destroy(&e);

	/* Absent and null sections are "not given". */
	e = parse_ok(HEAD "prediction:\npolicy: ~\nsimulate: null\n");
	assert_false(e->prediction.set);
	assert_false(e->policy.set);
	assert_false(e->simulate.set);
	mc_experiment_destroy(&e);

	/* A path is accepted without being loaded. */
	e = parse_ok(HEAD "policy: {name: ./mine.so, params: {anything: goes}}\n");
	assert_string_equal(e->policy.name, "./mine.so");
	mc_experiment_destroy(&e);
}

static void test_section_errors(void **state)
{
	(void)state;
	expect_error(HEAD "prediction: {recall: 0.5}\n",
	             "t.yaml:5: prediction.lead: required field is missing");
	expect_error(HEAD "prediction: {lead: 30}\n",
	             "t.yaml:5: prediction.lead: expected a duration 1ms..24h, got \"30\"");
	expect_error(HEAD "prediction: {lead: 30s, recall: 1.5}\n",
	             "t.yaml:5: prediction.recall: expected a number 0..1, e.g. 0.8, got \"1.5\"");
	expect_error(HEAD "prediction: {lead: 30s, precision: 0}\n",
	             "t.yaml:5: prediction.precision: expected a number above 0 and at most 1, "
	             "e.g. 0.9, got \"0\"");
	expect_error(HEAD "prediction: {lead: 30s, horizon: 1h}\n",
	             "t.yaml:5: prediction.horizon: unknown field (expected lead, recall, "
	             "precision)");
	expect_error(HEAD "policy: {params: {}}\n",
	             "t.yaml:5: policy.name: required field is missing");
	expect_error(HEAD "policy:\n  name: checkpoint\n",
	             "t.yaml:6: policy.name: unknown policy \"checkpoint\" (expected none, "
	             "checkpoint-restart, proactive-migrate, or a PATH.so)");
	expect_error(HEAD "policy:\n  name: checkpoint-restart\n  params:\n    interval: often\n",
	             "t.yaml:8: policy.params.interval: expected a duration (10m, 90s), auto "
	             "(Young), daly or none, got \"often\"");
	expect_error(HEAD "policy:\n  name: proactive-migrate\n  params:\n    lead: 5s\n",
	             "t.yaml:8: policy.params.lead: unknown parameter (expected interval, "
	             "min_signal, fallback)");
	expect_error(HEAD "policy: {name: none, params: {interval: 5m}}\n",
	             "t.yaml:5: policy.params.interval: none takes no parameters");
	expect_error(HEAD "policy: {name: ./p.so, params: {k: [1, 2]}}\n",
	             "t.yaml:5: policy.params.k: expected a value of at most 63 bytes, got a "
	             "sequence");
	expect_error(HEAD "simulate: {checkpoint_cost: 1m}\n",
	             "t.yaml:5: simulate.work: required field is missing");
	expect_error(HEAD "simulate: {work: 10ms}\n",
	             "t.yaml:5: simulate.work: expected a duration 1s..87600h, got \"10ms\"");
	expect_error(HEAD "simulate:\n  work: 1h\n  restart_cost: later\n",
	             "t.yaml:7: simulate.restart_cost: expected a duration 0ms..24h or measured "
	             "(the median from the results catalog), got \"later\"");
	expect_error(HEAD "simulate: {work: 1h, spares: many}\n",
	             "t.yaml:5: simulate.spares: expected an integer 0..10000000 or unlimited, got "
	             "\"many\"");
	expect_error(HEAD "simulate: {work: 1h, failures: weibull}\n",
	             "t.yaml:5: simulate.failures: unknown failure model \"weibull\" (expected "
	             "renewal, plan)");
	expect_error(HEAD "simulate: {work: 1h, nodes: 0}\n",
	             "t.yaml:5: simulate.nodes: expected an integer 1..10000000, got \"0\"");
	expect_error(HEAD "simulate: {work: 1h, cost: 1m}\n",
	             "t.yaml:5: simulate.cost: unknown field (expected work, checkpoint_cost, "
	             "restart_cost, migrate_cost, launch_cost, nodes, spares, failures, "
	             "limit)");
}

/* The example file parses, and its JSON parses back to the same experiment. */
static void test_example_round_trip(void **state)
{
	char err[1024] = "", path[4096];
	struct mc_experiment *e, *again;
	char *a, *b;
	json_t *j;

	(void)state;
	snprintf(path, sizeof(path), "%s/proactive.yaml", MC_EXPERIMENTS_DIR);
	if (!(e = mc_experiment_load(path, err, sizeof(err))))
		fail_msg("%s", err);
	assert_string_equal(e->policy.name, "proactive-migrate");
	assert_int_equal(e->prediction.lead_ms, 30000);
	assert_near(e->prediction.recall, 0.8, 0);
	assert_near(e->prediction.precision, 0.9, 0);
	assert_int_equal(e->cluster.guests, 64);
	j = mc_experiment_to_json(e);
	a = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	if (!(again = mc_experiment_parse(a, strlen(a), "json", err, sizeof(err))))
		fail_msg("%s\n%s", err, a);
	j = mc_experiment_to_json(again);
	b = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	assert_string_equal(a, b);
	free(a);
	free(b);
	mc_experiment_destroy(&again);
	mc_experiment_destroy(&e);
}

/* measured costs without a catalog fail with a clear message. */
static void test_measured_without_catalog(void **state)
{
	struct mc_experiment *e;
	struct mc_sim_config cfg;
	char err[2048] = "";

	(void)state;
	e = parse_ok(HEAD "simulate:\n  work: 1h\n  migrate_cost: measured\n");
	assert_int_equal(
	        mc_sim_config_resolve(e, 0, "/nonexistent-results", 1, &cfg, err, sizeof(err)),
	        -EINVAL);
	assert_string_equal(err, "t.yaml:7: simulate.migrate_cost: measured, but "
	                         "/nonexistent-results/catalog.sqlite: no catalog (no runs yet?) "
	                         "(real runs with the policy record it; give a duration until "
	                         "then)");
	mc_experiment_destroy(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_registry),
	        cmocka_unit_test(test_none),
	        cmocka_unit_test(test_young_daly),
	        cmocka_unit_test(test_checkpoint_restart),
	        cmocka_unit_test(test_proactive_migrate),
	        cmocka_unit_test(test_external),
	        cmocka_unit_test(test_sections),
	        cmocka_unit_test(test_section_errors),
	        cmocka_unit_test(test_example_round_trip),
	        cmocka_unit_test(test_measured_without_catalog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
