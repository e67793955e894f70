/* test_simulate.c — the discrete-event simulator and the prediction model against known answers. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "experiment.h"
#include "faultplan.h"
#include "policies/policy.h"
#include "predict.h"
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

#define HEAD                                                                                       \
	"name: t\n"                                                                                \
	"cluster: {guests: 64}\n"                                                                  \
	"workloads:\n"                                                                             \
	"  - {name: job, kind: mpi, program: mc-halo}\n"

static struct mc_experiment *parse_ok(const char *text)
{
	char err[1024] = "";
	struct mc_experiment *e =
	        mc_experiment_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	if (!e)
		fail_msg("unexpected error: %s\n--- input ---\n%s", err, text);
	return e;
}

static void config_ok(const struct mc_experiment *e, unsigned nodes, uint64_t seed,
                      struct mc_sim_config *cfg)
{
	char err[1024] = "";

	if (mc_sim_config_resolve(e, nodes, NULL, seed, cfg, err, sizeof(err)))
		fail_msg("resolve: %s", err);
}

static void run_ok(const struct mc_experiment *e, const struct mc_sim_config *cfg,
                   const char *policy, const char *key, const char *value, struct mc_sim_result *r)
{
	struct mc_policy_param p = {key, value};
	char err[1024] = "";

	if (mc_sim_run(e, cfg, policy, &p, key ? 1 : 0, NULL, NULL, r, err, sizeof(err)))
		fail_msg("simulate %s: %s", policy, err);
}

/* No failures: the job takes its work, plus the checkpoints it takes. */
static void test_no_failures(void **state)
{
	struct mc_experiment *e = parse_ok(HEAD "simulate: {work: 1h, checkpoint_cost: 1m, "
	                                        "restart_cost: 2m, migrate_cost: 10s}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;

	(void)state;
	config_ok(e, 0, 1, &cfg);
	assert_int_equal(cfg.nodes, 64);
	assert_near(cfg.limit_s, 360000, 0);
	run_ok(e, &cfg, "none", NULL, NULL, &r);
	assert_true(r.finished);
	assert_near(r.time_s, 3600, 1e-9);
	assert_int_equal(r.failures, 0);
	assert_int_equal(r.checkpoints, 0);
	/* Every 10m of running: at 10, 20, ..., 50 minutes of work; 5 checkpoints of 1m. */
	run_ok(e, &cfg, "checkpoint-restart", "interval", "10m", &r);
	assert_true(r.finished);
	assert_int_equal(r.checkpoints, 5);
	assert_near(r.time_s, 3600 + 5 * 60, 1e-6);
	assert_near(r.work_lost_s, 0, 0);
	/* Proactive migration without a predictor: the job's own time. */
	run_ok(e, &cfg, "proactive-migrate", NULL, NULL, &r);
	assert_near(r.time_s, 3600, 1e-9);
	assert_int_equal(r.migrations, 0);
	mc_experiment_destroy(&e);
}

/*
 * A launch cost: no progress during the first launch (a restart's relaunch is part of its
 * cost), and a failure during the launch loses nothing. One crash at 2m of a 1h job, 30s
 * launch.
 */
static void test_launch_cost(void **state)
{
	struct mc_experiment *e =
	        parse_ok(HEAD "faults:\n  plan:\n    - {kind: crash, target: g0003, at: 2m}\n"
	                      "simulate: {work: 1h, restart_cost: 20s, checkpoint_cost: 5s, "
	                      "launch_cost: 30s, failures: plan}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;

	(void)state;
	config_ok(e, 0, 1, &cfg);
	assert_near(cfg.launch_s, 30, 0);
	/* From the start: 90s of work lost (120s - the 30s launch), then 20s, 1h. */
	run_ok(e, &cfg, "none", NULL, NULL, &r);
	assert_int_equal(r.failures, 1);
	assert_near(r.work_lost_s, 90, 1e-6);
	assert_near(r.time_s, 120 + 20 + 3600, 1e-6);
	/* Every 60s of running, from the end of the launch: a checkpoint at 90..95s holds 60s
	 * of work; the crash at 120s loses 25s; after 20s the job goes on from 60s. */
	run_ok(e, &cfg, "checkpoint-restart", "interval", "60s", &r);
	assert_near(r.work_lost_s, 25, 1e-6);
	assert_true(r.checkpoints >= 59);
	assert_near(r.time_s, 120 + 20 + (3600 - 60) + 5.0 * (double)(r.checkpoints - 1), 1e-6);
	mc_experiment_destroy(&e);
	/* A crash during the launch: nothing lost; the restart (its relaunch included) ends it. */
	e = parse_ok(HEAD "faults:\n  plan:\n    - {kind: crash, target: g0003, at: 10s}\n"
	                  "simulate: {work: 1h, restart_cost: 20s, launch_cost: 30s, "
	                  "failures: plan}\n");
	config_ok(e, 0, 1, &cfg);
	run_ok(e, &cfg, "none", NULL, NULL, &r);
	assert_near(r.work_lost_s, 0, 0);
	assert_near(r.time_s, 10 + 20 + 3600, 1e-6);
	mc_experiment_destroy(&e);
}

/*
 * Restart from scratch under exponential failures: N nodes of MTBF m fail as one Poisson
 * process of rate L = N / m, also during restarts (which then begin again). Then
 *   E[T] = (exp(L W) - 1) exp(L R) / L.
 */
static void test_none_matches_theory(void **state)
{
	struct mc_experiment *e = parse_ok(
	        HEAD "faults:\n  plan:\n    - {kind: crash, target: all, distribution: {kind: "
	             "exponential, mtbf: 10h}, horizon: 24h}\n"
	             "simulate: {work: 1h, restart_cost: 1m, nodes: 10}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;
	double sum = 0, sumsq = 0, L = 10.0 / 36000, W = 3600, R = 60, want, mean, se;
	unsigned n = 4000;

	(void)state;
	for (unsigned k = 0; k < n; k++) {
		config_ok(e, 0, 1000 + k, &cfg);
		run_ok(e, &cfg, "none", NULL, NULL, &r);
		assert_true(r.finished);
		sum += r.time_s;
		sumsq += r.time_s * r.time_s;
	}
	want = (exp(L * W) - 1) * exp(L * R) / L;
	mean = sum / n;
	se = sqrt((sumsq / n - mean * mean) / n);
	if (fabs(mean - want) > 4 * se || fabs(mean - want) > 0.06 * want)
		fail_msg("mean %.1f s over %u seeds, theory %.1f s (standard error %.1f s)", mean,
		         n, want, se);
	mc_experiment_destroy(&e);
}

#define BIG                                                                                        \
	HEAD "faults:\n  seed: 3\n  plan:\n    - {kind: crash, target: all, distribution: {kind: " \
	     "exponential, mtbf: 8760h}, horizon: 24h}\n"

/* At 100,000 nodes (system MTBF about 5 minutes), checkpoints at Young's interval finish; no
 * checkpoints never do. */
static void test_checkpoint_beats_none_at_scale(void **state)
{
	struct mc_experiment *e = parse_ok(BIG "simulate: {work: 12h, checkpoint_cost: 30s, "
	                                       "restart_cost: 1m, nodes: 100000}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result none, young, daly;

	(void)state;
	config_ok(e, 0, 3, &cfg);
	run_ok(e, &cfg, "none", NULL, NULL, &none);
	run_ok(e, &cfg, "checkpoint-restart", "interval", "auto", &young);
	run_ok(e, &cfg, "checkpoint-restart", "interval", "daly", &daly);
	assert_false(none.finished);
	assert_true(young.finished);
	assert_true(daly.finished);
	assert_true(young.time_s < none.time_s);
	assert_true(young.time_s < 2 * cfg.work_s);
	assert_true(daly.time_s < 2 * cfg.work_s);
	assert_true(young.checkpoints > 0);
	/* A much longer interval does worse than Young's (about 2.4 minutes here). */
	{
		struct mc_sim_result slow;

		run_ok(e, &cfg, "checkpoint-restart", "interval", "1h", &slow);
		assert_true(!slow.finished || slow.time_s > young.time_s);
	}
	mc_experiment_destroy(&e);
}

/* Every failure warned about, in time to migrate: no work is lost. */
static void test_migrate_loses_nothing(void **state)
{
	struct mc_experiment *e =
	        parse_ok(BIG "prediction: {lead: 60s, recall: 1, precision: 0.8}\n"
	                     "simulate: {work: 24h, checkpoint_cost: 5m, "
	                     "restart_cost: 10m, migrate_cost: 20s, nodes: "
	                     "20000}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		config_ok(e, 0, seed, &cfg);
		run_ok(e, &cfg, "proactive-migrate", NULL, NULL, &r);
		assert_true(r.finished);
		assert_near(r.work_lost_s, 0, 0);
		assert_int_equal(r.failures, 0);
		assert_true(r.avoided > 0);
		assert_true(r.false_alarms > 0);
		assert_true(r.false_migrations > 0);
		assert_int_equal(r.migrations, r.warnings);
		/* Only the migrations' downtime is added. */
		assert_near(r.time_s, cfg.work_s + (double)r.migrations * 20, 20 * 3);
	}
	mc_experiment_destroy(&e);
}

/* Limited spares: migrations stop when they run out, and the refusals are counted. */
static void test_spares(void **state)
{
	struct mc_experiment *e = parse_ok(BIG "prediction: {lead: 60s}\n"
	                                       "simulate: {work: 24h, migrate_cost: 20s, nodes: "
	                                       "20000, spares: 2}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;

	(void)state;
	config_ok(e, 0, 1, &cfg);
	run_ok(e, &cfg, "proactive-migrate", "fallback", "none", &r);
	assert_int_equal(r.migrations, 2);
	assert_true(r.failures > 0);
	mc_experiment_destroy(&e);
}

static void test_determinism(void **state)
{
	struct mc_experiment *e = parse_ok(BIG "prediction: {lead: 60s, recall: 0.8, precision: "
	                                       "0.9}\n"
	                                       "simulate: {work: 24h, checkpoint_cost: 5m, "
	                                       "restart_cost: 10m, migrate_cost: 20s, nodes: "
	                                       "5000}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result a, b, c;

	(void)state;
	config_ok(e, 0, 7, &cfg);
	run_ok(e, &cfg, "proactive-migrate", "interval", "auto", &a);
	run_ok(e, &cfg, "proactive-migrate", "interval", "auto", &b);
	assert_memory_equal(&a, &b, sizeof(a));
	config_ok(e, 0, 8, &cfg);
	run_ok(e, &cfg, "proactive-migrate", "interval", "auto", &c);
	assert_true(c.time_s != a.time_s || c.failures != a.failures ||
	            c.migrations != a.migrations);
	mc_experiment_destroy(&e);
}

/* 100,000 nodes, a day of work, each policy: well under 10 s. */
static void test_100k_nodes_fast(void **state)
{
	struct mc_experiment *e = parse_ok(BIG "prediction: {lead: 60s, recall: 0.8, precision: "
	                                       "0.9}\n"
	                                       "simulate: {work: 24h, checkpoint_cost: 5m, "
	                                       "restart_cost: 10m, migrate_cost: 20s}\n");
	const char *pols[] = {"none", "checkpoint-restart", "proactive-migrate"};
	struct mc_sim_config cfg;
	struct mc_sim_result r;
	int64_t t0 = mc_now_ms(), ms;

	(void)state;
	config_ok(e, 100000, 3, &cfg);
	assert_int_equal(cfg.nodes, 100000);
	for (size_t i = 0; i < MC_ARRAY_SIZE(pols); i++)
		run_ok(e, &cfg, pols[i], NULL, NULL, &r);
	ms = mc_now_ms() - t0;
	print_message("100,000 nodes, 3 policies: %lld ms\n", (long long)ms);
	assert_true(ms < 10000);
	mc_experiment_destroy(&e);
}

/*
 * failures: plan, nodes = guests: exactly the schedule's failures. With policy none, no
 * restart cost and work longer than the horizon, every planned crash hits the job, and the
 * job ends work after the last one.
 */
static void test_plan_failures_match_schedule(void **state)
{
	struct mc_experiment *e = parse_ok(
	        HEAD "faults:\n  seed: 5\n  plan:\n    - {kind: crash, target: all, distribution: "
	             "{kind: weibull, shape: 0.8, scale: 20m}, horizon: 5m}\n"
	             "    - {kind: crash, target: random(3), at: 90s}\n"
	             "simulate: {work: 1h, failures: plan}\n");
	struct mc_fault_sched s;
	struct mc_sim_config cfg;
	struct mc_sim_result r;
	char err[512] = "";
	uint64_t last = 0, n = 0;

	(void)state;
	if (mc_fault_schedule(e, 5, &s, err, sizeof(err)))
		fail_msg("%s", err);
	for (size_t i = 0; i < s.n; i++) {
		n += s.items[i].n_guests;
		if (s.items[i].at_ms > last)
			last = s.items[i].at_ms;
	}
	assert_true(n > 5);
	config_ok(e, 0, 5, &cfg);
	run_ok(e, &cfg, "none", NULL, NULL, &r);
	/* A guest that crashed at its random(3) time and again from the distribution fails
	 * twice in the plan too (two entries): the counts match one for one. */
	assert_int_equal(r.failures, n);
	assert_near(r.time_s, (double)last / 1000 + 3600, 1e-6);
	mc_fault_sched_fini(&s);
	mc_experiment_destroy(&e);
}

/* The prediction model: recall 1 and precision 1 warn before every failure, lead ahead. */
static void test_predict_schedule(void **state)
{
	struct mc_experiment *e = parse_ok(
	        HEAD "faults:\n  seed: 5\n  plan:\n    - {kind: crash, target: all, distribution: "
	             "{kind: weibull, shape: 0.8, scale: 20m}, horizon: 5m}\n"
	             "prediction: {lead: 30s}\n");
	struct mc_fault_sched s;
	struct mc_predict_list l, l2;
	char err[512] = "";
	json_t *j;

	(void)state;
	if (mc_fault_schedule(e, 5, &s, err, sizeof(err)))
		fail_msg("%s", err);
	if (mc_predict_schedule(e, &s, 5, &l, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(l.n, s.n);
	for (size_t i = 0; i < l.n; i++) {
		assert_false(l.items[i].false_alarm);
		assert_int_equal(l.items[i].at_ms, l.items[i].predicted_ms >= 30000
		                                           ? l.items[i].predicted_ms - 30000
		                                           : 0);
	}
	j = mc_predict_list_to_json(e, &l);
	assert_int_equal(json_array_size(j), l.n);
	json_decref(j);
	mc_predict_list_fini(&l);
	mc_experiment_destroy(&e);

	/* recall 0.5, precision 0.6 with fatal crashes inside a horizon: over many seeds the
	 * warnings have that recall and precision; each seed's list is reproducible. */
	e = parse_ok(HEAD "faults:\n  plan:\n    - {kind: crash, target: all, "
	                  "distribution: {kind: exponential, mtbf: 20m}, horizon: 10m}\n"
	                  "prediction: {lead: 30s, recall: 0.5, precision: 0.6}\n");
	{
		size_t t = 0, f = 0, fails = 0;

		for (uint64_t seed = 1; seed <= 300; seed++) {
			mc_fault_sched_fini(&s);
			if (mc_fault_schedule(e, seed, &s, err, sizeof(err)) ||
			    mc_predict_schedule(e, &s, seed, &l, err, sizeof(err)) ||
			    mc_predict_schedule(e, &s, seed, &l2, err, sizeof(err)))
				fail_msg("%s", err);
			assert_int_equal(l.n, l2.n);
			if (l.n)
				assert_memory_equal(l.items, l2.items, l.n * sizeof(*l.items));
			for (size_t i = 0; i < l.n; i++) {
				f += l.items[i].false_alarm;
				t += !l.items[i].false_alarm;
				assert_true(l.items[i].at_ms < 600000);
			}
			fails += s.n;
			mc_predict_list_fini(&l);
			mc_predict_list_fini(&l2);
		}
		print_message("%zu failures: %zu warned, %zu false alarms\n", fails, t, f);
		assert_near((double)t / (double)fails, 0.5, 0.03);
		assert_near((double)t / (double)(t + f), 0.6, 0.03);
	}
	mc_fault_sched_fini(&s);
	mc_experiment_destroy(&e);
}

/* Over a long simulation the delivered warnings have the precision asked for. */
static void test_precision_holds(void **state)
{
	struct mc_experiment *e = parse_ok(BIG "prediction: {lead: 10s, recall: 0.7, precision: "
	                                       "0.6}\n"
	                                       "simulate: {work: 240h, nodes: 50000}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;
	double precision, recall;

	(void)state;
	config_ok(e, 0, 11, &cfg);
	run_ok(e, &cfg, "none", NULL, NULL, &r);
	precision = 1 - (double)r.false_alarms / (double)r.warnings;
	recall = (double)(r.warnings - r.false_alarms) / (double)r.failures;
	print_message("%llu failures, %llu warnings: precision %.3f, recall %.3f\n",
	              (unsigned long long)r.failures, (unsigned long long)r.warnings, precision,
	              recall);
	assert_true(fabs(precision - 0.6) < 0.05);
	assert_true(fabs(recall - 0.7) < 0.05);
	mc_experiment_destroy(&e);
}

/* measured: the median over the catalog's runs. */
static void test_measured(void **state)
{
	char dir[] = "/tmp/mc-test-simulate-XXXXXX", path[256], err[1024] = "";
	struct mc_experiment *e = parse_ok(HEAD "simulate: {work: 1h, checkpoint_cost: measured, "
	                                        "restart_cost: measured}\n");
	struct mc_sim_config cfg;
	sqlite3 *db;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/catalog.sqlite", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(
	                db,
	                "CREATE TABLE metrics(run TEXT, metric TEXT, workload TEXT, unit TEXT, "
	                "better TEXT, n INTEGER, median REAL, min REAL, max REAL, mad REAL);"
	                "INSERT INTO metrics(run, metric, median) VALUES"
	                " ('a', 'ft/checkpoint_s', 10), ('b', 'halo/ft/checkpoint_s', 30),"
	                " ('c', 'ft/checkpoint_s', 14), ('c', 'ft/checkpoint_ss', 99);",
	                NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(mc_sim_config_resolve(e, 0, dir, 1, &cfg, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:5: simulate.restart_cost: measured, but "));
	assert_non_null(strstr(err, "catalog.sqlite has no metric ft/restart_s yet"));
	mc_experiment_destroy(&e);
	e = parse_ok(HEAD "simulate: {work: 1h, checkpoint_cost: measured}\n");
	if (mc_sim_config_resolve(e, 0, dir, 1, &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	assert_near(cfg.checkpoint_s, 14, 0);
	mc_experiment_destroy(&e);
	unlink(path);
	rmdir(dir);
}

static void test_errors(void **state)
{
	struct mc_experiment *e =
	        parse_ok(HEAD "faults:\n  plan:\n    - {kind: crash, target: g0010-g0020, at: 1m}\n"
	                      "simulate: {work: 1h}\n");
	struct mc_sim_config cfg;
	struct mc_sim_result r;
	char err[1024] = "";

	(void)state;
	config_ok(e, 8, 1, &cfg);
	assert_int_equal(mc_sim_run(e, &cfg, "none", NULL, 0, NULL, NULL, &r, err, sizeof(err)),
	                 -EINVAL);
	assert_string_equal(err, "t.yaml:7: faults.plan[0].target: g0010-g0020 is outside the "
	                         "cluster (8 guests: g0000-g0007)");
	config_ok(e, 0, 1, &cfg);
	assert_int_equal(mc_sim_run(e, &cfg, "bogus", NULL, 0, NULL, NULL, &r, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "unknown policy \"bogus\""));
	mc_experiment_destroy(&e);
	e = parse_ok(HEAD);
	assert_int_equal(mc_sim_config_resolve(e, 0, NULL, 1, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml: no simulate section (microcosm simulate needs at least "
	                         "simulate.work; see docs/policies.md)");
	mc_experiment_destroy(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_failures),
	        cmocka_unit_test(test_launch_cost),
	        cmocka_unit_test(test_none_matches_theory),
	        cmocka_unit_test(test_checkpoint_beats_none_at_scale),
	        cmocka_unit_test(test_migrate_loses_nothing),
	        cmocka_unit_test(test_spares),
	        cmocka_unit_test(test_determinism),
	        cmocka_unit_test(test_100k_nodes_fast),
	        cmocka_unit_test(test_plan_failures_match_schedule),
	        cmocka_unit_test(test_predict_schedule),
	        cmocka_unit_test(test_precision_holds),
	        cmocka_unit_test(test_measured),
	        cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
