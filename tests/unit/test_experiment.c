/* test_experiment.c — experiment files: examples, defaults, exact error messages, robustness. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "experiment.h"
#include "util.h"

#ifndef MC_EXPERIMENTS_DIR
#error "MC_EXPERIMENTS_DIR (workloads/experiments in the source tree) must be defined"
#endif

static const char *const examples[] = {"ring.yaml", "allreduce.yaml", "taskfarm.yaml",
                                       "default.yaml", "faults-weibull.yaml"};

static char *example_path(const char *file)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", MC_EXPERIMENTS_DIR, file);
	return path;
}

static char *read_example(const char *file, size_t *len)
{
	char *text = NULL;

	assert_int_equal(mc_read_file(example_path(file), MC_EXP_MAX_BYTES, &text, len), 0);
	return text;
}

static struct mc_experiment *parse_ok(const char *text)
{
	char err[512] = "";
	struct mc_experiment *e =
	        mc_experiment_parse(text, strlen(text), "t.yaml", err, sizeof(err));

	if (!e)
		fail_msg("unexpected error: %s", err);
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

static void test_ring_example(void **state)
{
	char err[512] = "";
	struct mc_experiment *e;

	(void)state;
	e = mc_experiment_load(example_path("ring.yaml"), err, sizeof(err));
	if (!e)
		fail_msg("%s", err);
	assert_string_equal(e->name, "ring-64");
	assert_int_equal(e->seed_set, 1);
	assert_int_equal(e->seed, 42);
	assert_int_equal(e->cluster.guests, 64);
	assert_int_equal(e->cluster.clone, 1);
	assert_int_equal(e->cluster.mem_mib, 128);
	assert_int_equal(e->cluster.vcpus, 1);
	assert_string_equal(e->cluster.kernel, "project");
	assert_int_equal(e->cluster.density, 0);
	assert_int_equal(e->cluster.heartbeat_ms, 1000);
	assert_string_equal(e->results_dir, "runs");
	assert_non_null(strstr(e->text, "name: ring-64"));
	assert_int_equal(e->text_len, strlen(e->text));
	assert_string_equal(e->source, example_path("ring.yaml"));

	/* Network settings in file order, with lines. */
	{
		static const char *const want[][2] = {
		        {"latency", "50us"},
		        {"jitter", "5us"},
		        {"bandwidth", "1Gbit"},
		        {"loss", "0%"},
		        {"topology.kind", "fat-tree"},
		        {"topology.rack_size", "16"},
		        {"topology.oversubscription", "4"},
		        {"topology.intra.latency", "10us"},
		        {"topology.intra.bandwidth", "10Gbit"},
		        {"topology.inter.latency", "100us"},
		};

		assert_int_equal(e->n_network, MC_ARRAY_SIZE(want));
		for (unsigned i = 0; i < e->n_network; i++) {
			assert_string_equal(e->network[i].key, want[i][0]);
			assert_string_equal(e->network[i].value, want[i][1]);
		}
		assert_int_equal(e->network[0].line, 18);
		assert_int_equal(e->network[9].line, 27);
	}

	assert_int_equal(e->n_workloads, 1);
	{
		const struct mc_exp_workload *w = &e->workloads[0];

		assert_string_equal(w->name, "ring");
		assert_int_equal(w->kind, MC_EXP_MPI);
		assert_int_equal(w->line, 30);
		assert_string_equal(w->program, "mc-ring");
		assert_int_equal(w->argc, 2);
		assert_string_equal(w->argv[0], "--sizes");
		assert_string_equal(w->argv[1], "8,1K,64K");
		assert_null(w->argv[2]);
		assert_int_equal(w->ranks, 64);
		assert_int_equal(w->ppn, 1);
		assert_int_equal(w->repeat, 3);
		assert_int_equal(w->timeout_ms, 600000);
		assert_int_equal(w->envc, 1);
		assert_string_equal(w->env[0].name, "MC_MPI_SLEEP_MAX_US");
		assert_string_equal(w->env[0].value, "500");
		assert_null(w->target);
	}
	mc_experiment_destroy(&e);
	assert_null(e);
	mc_experiment_destroy(&e); /* accepts NULL */
	mc_experiment_destroy(NULL);
}

static void test_other_examples(void **state)
{
	char err[512] = "";
	struct mc_experiment *e;
	const struct mc_exp_workload *w;

	(void)state;
	e = mc_experiment_load(example_path("allreduce.yaml"), err, sizeof(err));
	if (!e)
		fail_msg("%s", err);
	assert_int_equal(e->seed_set, 0);
	assert_int_equal(e->cluster.guests, 32);
	assert_int_equal(e->cluster.clone, 0);
	assert_int_equal(e->cluster.mem_mib, 256);
	assert_int_equal(e->cluster.vcpus, 2);
	assert_string_equal(e->cluster.kernel, "cloud");
	assert_int_equal(e->cluster.heartbeat_ms, 0);
	assert_int_equal(e->n_workloads, 3);
	assert_int_equal(e->workloads[0].ranks, 32);
	assert_int_equal(e->workloads[1].ranks, 64);
	assert_int_equal(e->workloads[1].ppn, 2);
	assert_int_equal(e->workloads[0].argc, 4);
	assert_string_equal(e->workloads[0].argv[1], "8,1K,64K");
	assert_int_equal(e->workloads[0].timeout_ms, 300000);
	assert_int_equal(e->workloads[1].envc, 1);
	w = &e->workloads[2];
	assert_int_equal(w->kind, MC_EXP_EXEC);
	assert_string_equal(w->target, "g0000-g0003");
	assert_string_equal(w->program, "uname");
	assert_string_equal(w->argv[0], "-r");
	assert_string_equal(e->results_dir, "runs/allreduce");
	mc_experiment_destroy(&e);

	e = mc_experiment_load(example_path("taskfarm.yaml"), err, sizeof(err));
	if (!e)
		fail_msg("%s", err);
	assert_int_equal(e->n_workloads, 2);
	assert_string_equal(e->workloads[0].target, "all");
	assert_int_equal(e->workloads[0].argc, 0);
	assert_non_null(e->workloads[0].argv);
	assert_null(e->workloads[0].argv[0]);
	w = &e->workloads[1];
	assert_int_equal(w->kind, MC_EXP_TASKFARM);
	assert_int_equal(w->tasks, 2000);
	assert_int_equal(w->task_ms, 5);
	assert_int_equal(w->workers, 15);
	assert_int_equal(w->kill_workers, 2);
	assert_int_equal(w->kill_after_ms, 2000);
	assert_int_equal(w->repeat, 3);
	assert_null(w->program);
	assert_null(w->argv);
	assert_int_equal(e->n_network, 2);
	assert_string_equal(e->network[1].value, "0.1%");
	mc_experiment_destroy(&e);
}

static void test_defaults(void **state)
{
	struct mc_experiment *e;
	const struct mc_exp_workload *w;

	(void)state;
	e = parse_ok("name: x\n");
	assert_string_equal(e->name, "x");
	assert_int_equal(e->seed_set, 0);
	assert_int_equal(e->cluster.guests, 4);
	assert_int_equal(e->cluster.clone, 1);
	assert_int_equal(e->cluster.mem_mib, 128);
	assert_int_equal(e->cluster.vcpus, 1);
	assert_string_equal(e->cluster.kernel, "project");
	assert_int_equal(e->cluster.density, 0);
	assert_int_equal(e->cluster.heartbeat_ms, 0);
	assert_int_equal(e->n_network, 0);
	assert_int_equal(e->n_workloads, 0);
	assert_null(e->workloads);
	assert_string_equal(e->results_dir, "runs");
	mc_experiment_destroy(&e);

	/* Sections may be null (empty); workload defaults follow the cluster. */
	e = parse_ok("name: x\ncluster:\n  guests: 10\nnetwork:\nresults:\nworkloads:\n"
	             "  - {name: a, kind: mpi, program: p, ppn: 3, env: ~, args: ~}\n"
	             "  - {name: b, kind: taskfarm}\n"
	             "  - {name: c, kind: exec, program: q}\n");
	assert_int_equal(e->n_workloads, 3);
	w = &e->workloads[0];
	assert_int_equal(w->ranks, 30);
	assert_int_equal(w->repeat, 1);
	assert_int_equal(w->timeout_ms, 600000);
	assert_int_equal(w->envc, 0);
	assert_int_equal(w->argc, 0);
	w = &e->workloads[1];
	assert_int_equal(w->tasks, 1000);
	assert_int_equal(w->task_ms, 10);
	assert_int_equal(w->workers, 9);
	assert_int_equal(w->kill_workers, 0);
	assert_int_equal(w->kill_after_ms, 1000);
	w = &e->workloads[2];
	assert_string_equal(w->target, "all");
	mc_experiment_destroy(&e);

	/* One guest still gets one worker. */
	e = parse_ok("name: x\ncluster: {guests: 1}\nworkloads: [{name: f, kind: taskfarm}]\n");
	assert_int_equal(e->workloads[0].workers, 1);
	mc_experiment_destroy(&e);

	/* Value forms. */
	e = parse_ok("name: x\nseed: 0\ncluster:\n  memory: 2G\n  heartbeat: 250ms\n"
	             "  spawn: boot\n  density: true\n  kernel: ./my/bzImage\n"
	             "network:\n  loss: \"100%\"\n  duplicate: 0.50%\n  bandwidth: 100mbit\n");
	assert_int_equal(e->seed_set, 1);
	assert_int_equal(e->seed, 0);
	assert_int_equal(e->cluster.mem_mib, 2048);
	assert_int_equal(e->cluster.heartbeat_ms, 250);
	assert_int_equal(e->cluster.clone, 0);
	assert_int_equal(e->cluster.density, 1);
	assert_string_equal(e->cluster.kernel, "./my/bzImage");
	assert_int_equal(e->n_network, 3);
	mc_experiment_destroy(&e);
}

static char *dumps(const struct mc_experiment *e)
{
	json_t *j = mc_experiment_to_json(e);
	char *s;

	assert_non_null(j);
	s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	assert_non_null(s);
	return s;
}

/* default.yaml spells out exactly the defaults of the minimal file. */
static void test_default_yaml_is_the_defaults(void **state)
{
	char err[512] = "";
	struct mc_experiment *full, *min;
	char *a, *b;

	(void)state;
	full = mc_experiment_load(example_path("default.yaml"), err, sizeof(err));
	if (!full)
		fail_msg("%s", err);
	min = parse_ok("name: default\n"
	               "workloads: [{name: mpi, kind: mpi, program: mc-ring}, {name: farm, kind: "
	               "taskfarm},\n"
	               "            {name: exec, kind: exec, program: uname}]\n");
	a = dumps(full);
	b = dumps(min);
	assert_string_equal(a, b);
	free(a);
	free(b);
	mc_experiment_destroy(&full);
	mc_experiment_destroy(&min);
}

/* The JSON of an experiment is itself an experiment file that resolves the same. */
static void test_json_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < MC_ARRAY_SIZE(examples); i++) {
		char err[512] = "";
		struct mc_experiment *e =
		        mc_experiment_load(example_path(examples[i]), err, sizeof(err));
		struct mc_experiment *again;
		char *a, *b;

		if (!e)
			fail_msg("%s", err);
		a = dumps(e);
		again = mc_experiment_parse(a, strlen(a), "json", err, sizeof(err));
		if (!again)
			fail_msg("%s: %s\n%s", examples[i], err, a);
		b = dumps(again);
		assert_string_equal(a, b);
		free(a);
		free(b);
		mc_experiment_destroy(&e);
		mc_experiment_destroy(&again);
	}
}

static void test_json_content(void **state)
{
	struct mc_experiment *e;
	json_t *j;

	(void)state;
	e = parse_ok("name: j\nseed: 9\ncluster: {memory: 1536, heartbeat: 90s}\n"
	             "network:\n  topology: {kind: fat-tree, rack_size: 8, intra: {loss: 1%}}\n"
	             "workloads: [{name: w, kind: exec, program: ls, timeout: 1500ms}]\n");
	j = mc_experiment_to_json(e);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "seed")), 9);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(j, "cluster"), "memory")),
	        "1536M");
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(j, "cluster"), "heartbeat")),
	        "90s");
	{
		json_t *topo = json_object_get(json_object_get(j, "network"), "topology");

		assert_string_equal(json_string_value(json_object_get(topo, "kind")), "fat-tree");
		assert_int_equal(json_integer_value(json_object_get(topo, "rack_size")), 8);
		assert_string_equal(
		        json_string_value(json_object_get(json_object_get(topo, "intra"), "loss")),
		        "1%");
	}
	assert_string_equal(json_string_value(json_object_get(
	                            json_array_get(json_object_get(j, "workloads"), 0), "timeout")),
	                    "1500ms");
	json_decref(j);
	mc_experiment_destroy(&e);
}

/* The researcher's own image and shared directory pass through as given. */
static void test_image_and_share(void **state)
{
	struct mc_experiment *e =
	        parse_ok("name: r\ncluster:\n  guests: 2\n  image: my-app\n  share: /srv/app\n");
	json_t *j;

	(void)state;
	assert_string_equal(e->cluster.image, "my-app");
	assert_string_equal(e->cluster.share, "/srv/app");
	j = mc_experiment_to_json(e);
	assert_string_equal(
	        json_string_value(json_object_get(json_object_get(j, "cluster"), "share")),
	        "/srv/app");
	json_decref(j);
	mc_experiment_destroy(&e);
	e = parse_ok("name: r\n");
	assert_string_equal(e->cluster.image, "");
	assert_string_equal(e->cluster.share, "");
	mc_experiment_destroy(&e);
	expect_error("name: r\ncluster:\n  share: [a]\n",
	             "t.yaml:3: cluster.share: expected a host directory, got a sequence");
	expect_error("name: r\ncluster:\n  image: \"\"\n",
	             "t.yaml:3: cluster.image: expected an image name or a qcow2 path, got \"\"");
}

/* tracing: the switch, the event patterns and the flush interval; a bad pattern names its
 * index. */
static void test_tracing(void **state)
{
	struct mc_experiment *e = parse_ok(
	        "name: r\ntracing:\n  enabled: true\n  events: [\"microcosm_mpi:*\", x:y]\n");

	(void)state;
	assert_true(e->tracing);
	assert_int_equal(e->n_trace_events, 2);
	assert_string_equal(e->trace_events[0], "microcosm_mpi:*");
	assert_string_equal(e->trace_events[1], "x:y");
	assert_int_equal(e->trace_flush_ms, MC_TRACE_FLUSH_MS);
	mc_experiment_destroy(&e);
	e = parse_ok("name: r\n");
	assert_false(e->tracing);
	mc_experiment_destroy(&e);
	e = parse_ok("name: r\ntracing: {enabled: true, flush: 2s}\n");
	assert_int_equal(e->trace_flush_ms, 2000);
	mc_experiment_destroy(&e);
	e = parse_ok("name: r\ntracing: {enabled: true, flush: off}\n");
	assert_int_equal(e->trace_flush_ms, 0);
	mc_experiment_destroy(&e);
	expect_error("name: r\ntracing:\n  flush: 5ms\n",
	             "t.yaml:3: tracing.flush: expected a duration from 10ms to 60s, or off, got "
	             "\"5ms\"");
	expect_error("name: r\ntracing:\n  events: [\"a b\"]\n",
	             "t.yaml:3: tracing.events[0]: expected an LTTng event pattern of letters, "
	             "digits, _ : and *, e.g. microcosm_mpi:*, got \"a b\"");
	expect_error("name: r\ntracing:\n  enabled: maybe\n",
	             "t.yaml:3: tracing.enabled: expected true or false, got \"maybe\"");
}

/* Top-level repeat is every workload's default; results.collect takes guest paths on the
 * disk (/data) only. */
static void test_repeat_and_collect(void **state)
{
	struct mc_experiment *e =
	        parse_ok("name: r\nrepeat: 3\nworkloads:\n  - {name: a, kind: exec, program: x}\n"
	                 "  - {name: b, kind: exec, program: x, repeat: 1}\nresults:\n"
	                 "  collect: [/data/out, \"/data/logs/*.csv\"]\n");

	(void)state;
	assert_int_equal(e->repeat, 3);
	assert_int_equal(e->workloads[0].repeat, 3);
	assert_int_equal(e->workloads[1].repeat, 1);
	assert_int_equal(e->n_collect, 2);
	assert_string_equal(e->collect[1], "/data/logs/*.csv");
	mc_experiment_destroy(&e);
	e = parse_ok("name: r\nworkloads:\n  - {name: a, kind: exec, program: x}\n");
	assert_int_equal(e->workloads[0].repeat, 1);
	assert_int_equal(e->n_collect, 0);
	mc_experiment_destroy(&e);
	expect_error(
	        "name: r\nresults:\n  collect: [/tmp/out]\n",
	        "t.yaml:3: results.collect[0]: expected a path under /data (the guest's disk), "
	        "e.g. /data/out or /data/out/*.csv, got \"/tmp/out\"");
	expect_error(
	        "name: r\nresults:\n  collect: [/data/../etc]\n",
	        "t.yaml:3: results.collect[0]: expected a path under /data (the guest's disk), "
	        "e.g. /data/out or /data/out/*.csv, got \"/data/../etc\"");
	expect_error("name: r\nrepeat: 0\n",
	             "t.yaml:2: repeat: expected an integer 1..10000, got \"0\"");
}

static void test_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	        /* The brief's examples. */
	        {"name: ring\nseed: 1\n\n\n\ncluster:\n  guests: lots\n",
	         "t.yaml:7: cluster.guests: expected an integer 1..65534, got \"lots\""},
	        {"name: r\nworkloads:\n  - {name: a, kind: exec, program: x}\n  - name: b\n"
	         "    kind: mpii\n",
	         "t.yaml:5: workloads[1].kind: unknown kind \"mpii\" (expected mpi, taskfarm, "
	         "exec)"},
	        {"name: r\nseed: 1\nclustr:\n  guests: 4\n",
	         "t.yaml:3: clustr: unknown field (expected name, seed, cluster, network, "
	         "workloads, results, faults, tracing, repeat, policy, prediction, simulate)"},
	        /* Syntax errors carry libyaml's line and problem. */
	        {"name: r\ncluster:\n  guests: 4\n bad: 1\n",
	         "t.yaml:4: syntax error: did not find expected key (while parsing a block "
	         "mapping at line 1)"},
	        {"name: \"r\n",
	         "t.yaml:2: syntax error: found unexpected end of stream (while scanning a quoted "
	         "scalar at line 1)"},
	        {"name: r\nargs: [a, b\n",
	         "t.yaml:3: syntax error: did not find expected ',' or ']' (while parsing a flow "
	         "sequence at line 2)"},
	        {"name: r\x01\n", "t.yaml:1: syntax error: control characters are not allowed"},
	        {"name: r\nx: \xff\n", "t.yaml:2: syntax error: invalid leading UTF-8 octet"},
	        /* Duplicates. */
	        {"name: r\ncluster:\n  guests: 4\n  vcpus: 1\n  guests: 5\n",
	         "t.yaml:5: cluster.guests: duplicate key (first at line 3)"},
	        {"name: r\nname: s\n", "t.yaml:2: name: duplicate key (first at line 1)"},
	        {"name: r\nworkloads:\n  - {name: a, kind: exec, program: x}\n"
	         "  - {name: b, kind: exec, program: x}\n  - {name: a, kind: exec, program: y}\n",
	         "t.yaml:5: workloads[2].name: duplicate workload name \"a\" (first at "
	         "workloads[0], line 3)"},
	        /* Missing required fields: the line of the enclosing mapping. */
	        {"# comment\n\nseed: 1\ncluster: {guests: 2}\n",
	         "t.yaml:3: name: required field is missing"},
	        {"name: r\nworkloads:\n  - name: a\n    program: x\n",
	         "t.yaml:3: workloads[0].kind: required field is missing"},
	        {"name: r\nworkloads:\n  - kind: mpi\n    program: x\n",
	         "t.yaml:3: workloads[0].name: required field is missing"},
	        {"name: r\nworkloads:\n  - name: a\n    kind: mpi\n",
	         "t.yaml:3: workloads[0].program: required field is missing"},
	        /* Wrong types. */
	        {"name: r\ncluster:\n  - guests: 4\n",
	         "t.yaml:3: cluster: expected a mapping, got a sequence"},
	        {"name: r\nworkloads:\n  name: a\n",
	         "t.yaml:3: workloads: expected a sequence, got a mapping"},
	        {"name: r\nworkloads: [ring]\n",
	         "t.yaml:2: workloads[0]: expected a mapping, got \"ring\""},
	        {"- name: r\n",
	         "t.yaml:1: expected a mapping at the top of the file, got a sequence"},
	        {"name: [r]\n", "t.yaml:1: name: expected a name of 1-48 letters, digits, '.', '_' "
	                        "or '-', starting with a letter or digit, got a "
	                        "sequence"},
	        {"name: r\ncluster:\n  guests:\n", "t.yaml:3: cluster.guests: expected an integer "
	                                           "1..65534, got null"},
	        {"name: r\n? [a]\n: 1\n", "t.yaml:2: a key must be a scalar, got a sequence"},
	        /* Empty. */
	        {"", "t.yaml:1: empty file (an experiment needs at least a name)"},
	        {"# nothing\n\n", "t.yaml:1: empty file (an experiment needs at least a name)"},
	        {"---\n", "t.yaml:1: empty file (an experiment needs at least a name)"},
	        /* Strict numbers. */
	        {"name: r\ncluster: {guests: 64x}\n",
	         "t.yaml:2: cluster.guests: expected an integer 1..65534, got \"64x\""},
	        {"name: r\ncluster: {guests: -1}\n",
	         "t.yaml:2: cluster.guests: expected an integer 1..65534, got \"-1\""},
	        {"name: r\ncluster: {guests: +5}\n",
	         "t.yaml:2: cluster.guests: expected an integer 1..65534, got \"+5\""},
	        {"name: r\ncluster: {guests: 0x40}\n",
	         "t.yaml:2: cluster.guests: expected an integer 1..65534, got \"0x40\""},
	        {"name: r\ncluster: {guests: 1e3}\n",
	         "t.yaml:2: cluster.guests: expected an integer 1..65534, got \"1e3\""},
	        {"name: r\ncluster: {guests: 65535}\n",
	         "t.yaml:2: cluster.guests: expected an integer 1..65534, got \"65535\""},
	        {"name: r\nseed: 99999999999999999999999\n",
	         "t.yaml:2: seed: expected an integer 0..9223372036854775807 or auto, got "
	         "\"99999999999999999999999\""},
	        {"name: r\nseed: 9223372036854775808\n",
	         "t.yaml:2: seed: expected an integer 0..9223372036854775807 or auto, got "
	         "\"9223372036854775808\""},
	        {"name: r\ncluster: {memory: 16M}\n",
	         "t.yaml:2: cluster.memory: expected a size 32M..64G (M or G suffix; a plain "
	         "number is MiB), got \"16M\""},
	        {"name: r\ncluster: {memory: 1T}\n",
	         "t.yaml:2: cluster.memory: expected a size 32M..64G (M or G suffix; a plain "
	         "number is MiB), got \"1T\""},
	        {"name: r\ncluster: {heartbeat: 1}\n",
	         "t.yaml:2: cluster.heartbeat: expected a duration 50ms..10m or auto, got \"1\""},
	        {"name: r\ncluster: {heartbeat: 10us}\n",
	         "t.yaml:2: cluster.heartbeat: expected a duration 50ms..10m or auto, got "
	         "\"10us\""},
	        {"name: r\ncluster: {heartbeat: 99999999999999999h}\n",
	         "t.yaml:2: cluster.heartbeat: expected a duration 50ms..10m or auto, got "
	         "\"99999999999999999h\""},
	        {"name: r\nworkloads: [{name: a, kind: exec, program: x, timeout: 1500us}]\n",
	         "t.yaml:2: workloads[0].timeout: expected a duration 1s..24h, got \"1500us\""},
	        /* Enumerations and other values. */
	        {"name: r\ncluster: {spawn: fork}\n",
	         "t.yaml:2: cluster.spawn: unknown spawn mode \"fork\" (expected clone, boot)"},
	        {"name: r\ncluster: {density: yes}\n",
	         "t.yaml:2: cluster.density: expected true or false, got \"yes\""},
	        {"name: r\ncluster: {kernel: vmlinuz}\n",
	         "t.yaml:2: cluster.kernel: unknown kernel \"vmlinuz\" (expected project, cloud or "
	         "a path containing '/')"},
	        {"name: ring 64\n", "t.yaml:1: name: expected a name of 1-48 letters, digits, '.', "
	                            "'_' or '-', starting with a letter or digit, got "
	                            "\"ring 64\""},
	        {"name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	         "t.yaml:1: name: expected a name of 1-48 letters, digits, '.', '_' or '-', "
	         "starting with a letter or digit, got "
	         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\""},
	        {"name: ..\n", "t.yaml:1: name: expected a name of 1-48 letters, digits, '.', '_' "
	                       "or '-', starting "
	                       "with a letter or digit, got \"..\""},
	        {"name: r\nworkloads: [{name: -x, kind: taskfarm}]\n",
	         "t.yaml:2: workloads[0].name: expected a name of 1-48 letters, digits, '.', '_' "
	         "or "
	         "'-', starting with a letter or digit, got \"-x\""},
	        {"name: \"a\\0b\"\n", "t.yaml:1: name: expected a name of 1-48 letters, digits, "
	                              "'.', '_' or '-', starting with a letter or digit, got "
	                              "\"a\\x00b\""},
	        {"name: r\nresults: {dir: \"\"}\n",
	         "t.yaml:2: results.dir: expected a directory path, got \"\""},
	        {"name: r\nresults: {path: x}\n",
	         "t.yaml:2: results.path: unknown field (expected dir, collect)"},
	        /* Workloads: fields per kind, cross-field limits. */
	        {"name: r\nworkloads:\n  - name: a\n    kind: exec\n    program: x\n    ranks: 4\n",
	         "t.yaml:6: workloads[0].ranks: unknown field for kind exec (expected name, kind, "
	         "target, program, args, repeat, timeout, env)"},
	        {"name: r\ncluster: {guests: 8}\nworkloads:\n"
	         "  - {name: a, kind: mpi, program: x, ppn: 2, ranks: 17}\n",
	         "t.yaml:4: workloads[0].ranks: expected an integer 1..16 (guests x ppn), got "
	         "\"17\""},
	        {"name: r\nworkloads: [{name: a, kind: taskfarm, workers: 3, kill_workers: 3}]\n",
	         "t.yaml:2: workloads[0].kill_workers: expected an integer 0..2 (fewer than "
	         "workers), got \"3\""},
	        {"name: r\nworkloads: [{name: a, kind: taskfarm, repeat: 0}]\n",
	         "t.yaml:2: workloads[0].repeat: expected an integer 1..10000, got \"0\""},
	        {"name: r\nworkloads: [{name: a, kind: exec, program: x, target: \"g1-\"}]\n",
	         "t.yaml:2: workloads[0].target: expected a target set (all, g0000-g0003, 0,2,5), "
	         "got \"g1-\""},
	        {"name: r\nworkloads: [{name: a, kind: exec, program: x, args: [a, [b]]}]\n",
	         "t.yaml:2: workloads[0].args[1]: expected a string, got a sequence"},
	        {"name: r\nworkloads: [{name: a, kind: exec, program: x, args: \"-r\"}]\n",
	         "t.yaml:2: workloads[0].args: expected a sequence of strings, got \"-r\""},
	        {"name: r\nworkloads: [{name: a, kind: exec, program: x, env: {1X: y}}]\n",
	         "t.yaml:2: workloads[0].env.1X: not a variable name (expected "
	         "[A-Za-z_][A-Za-z0-9_]*)"},
	        {"name: r\nworkloads: [{name: a, kind: exec, program: x, env: {X: }}]\n",
	         "t.yaml:2: workloads[0].env.X: expected a string (write \"\" for an empty one), "
	         "got null"},
	        /* Network keys and values. */
	        {"name: r\nnetwork:\n  latency: 50us\n  delay: 5ms\n",
	         "t.yaml:4: network.delay: unknown field (expected latency, jitter, bandwidth, "
	         "loss, duplicate, corrupt, topology)"},
	        {"name: r\nnetwork:\n  latency: fast\n",
	         "t.yaml:3: network.latency: expected a delay like 50us or 1.5ms (units us, ms, "
	         "s), "
	         "got \"fast\""},
	        {"name: r\nnetwork:\n  bandwidth: 0Gbit\n",
	         "t.yaml:3: network.bandwidth: expected a rate like 1Gbit or 100mbit (units bit, "
	         "kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps), got \"0Gbit\""},
	        {"name: r\nnetwork:\n  loss: 100.5%\n",
	         "t.yaml:3: network.loss: expected a percentage 0%..100%, got \"100.5%\""},
	        {"name: r\nnetwork:\n  corrupt: 5\n",
	         "t.yaml:3: network.corrupt: expected a percentage 0%..100%, got \"5\""},
	        {"name: r\nnetwork:\n  topology:\n    kind: torus\n",
	         "t.yaml:4: network.topology.kind: unknown topology kind \"torus\" (expected flat, "
	         "fat-tree)"},
	        {"name: r\nnetwork:\n  topology:\n    intra: {latency: 1us, topology: {}}\n",
	         "t.yaml:4: network.topology.intra.topology: unknown field (expected latency, "
	         "jitter, bandwidth, loss, duplicate, corrupt)"},
	        {"name: r\nnetwork:\n  topology:\n    rack_size: 0\n",
	         "t.yaml:4: network.topology.rack_size: expected an integer 1..65534, got \"0\""},
	        {"name: r\nnetwork:\n  topology: flat\n",
	         "t.yaml:3: network.topology: expected a mapping, got \"flat\""},
	        /* Things the parser refuses outright. */
	        {"name: &n r\nseed: *n\n", "t.yaml:2: aliases (*name) are not supported"},
	        {"name: r\n---\nname: s\n",
	         "t.yaml:2: a second YAML document (a file holds one experiment)"},
	        {"name: r\nx: [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]\n",
	         "t.yaml:2: nested deeper than 16 levels"},
	        /* Long or odd keys are quoted in the path. */
	        {"name: r\n\"a b\\n\": 1\n",
	         "t.yaml:2: \"a b\\n\": unknown field (expected name, seed, cluster, network, "
	         "workloads, results, faults, tracing, repeat, policy, prediction, simulate)"},
	};

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_SIZE(cases); i++)
		expect_error(cases[i].text, cases[i].want);
}

/* A growing string buffer for generated inputs. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void test_limits(void **state)
{
	struct sbuf b = {0};
	char *big;

	(void)state;
	/* 64 workloads are fine, 65 are not. */
	sb_add(&b, "name: r\nworkloads:\n");
	for (int i = 0; i < 64; i++)
		sb_add(&b, "  - {name: w%d, kind: exec, program: x}\n", i);
	{
		struct mc_experiment *e = parse_ok(b.s);

		assert_int_equal(e->n_workloads, 64);
		mc_experiment_destroy(&e);
	}
	sb_add(&b, "  - {name: w64, kind: exec, program: x}\n");
	expect_error(b.s, "t.yaml:67: workloads[64]: too many workloads (at most 64)");
	b.len = 0;

	/* 256 arguments are fine, 257 are not. */
	sb_add(&b, "name: r\nworkloads:\n  - name: a\n    kind: exec\n    program: x\n    args:\n");
	for (int i = 0; i < 256; i++)
		sb_add(&b, "      - a%d\n", i);
	{
		struct mc_experiment *e = parse_ok(b.s);

		assert_int_equal(e->workloads[0].argc, 256);
		assert_string_equal(e->workloads[0].argv[255], "a255");
		mc_experiment_destroy(&e);
	}
	sb_add(&b, "      - a256\n");
	expect_error(b.s, "t.yaml:263: workloads[0].args[256]: too many arguments (at most 256)");
	b.len = 0;

	/* An argument of 4096 bytes is fine, 4097 is not. */
	big = malloc(4098);
	assert_non_null(big);
	memset(big, 'x', 4097);
	big[4096] = '\0';
	sb_add(&b, "name: r\nworkloads: [{name: a, kind: exec, program: x, args: [ok, \"%s\"]}]\n",
	       big);
	{
		struct mc_experiment *e = parse_ok(b.s);

		assert_int_equal(strlen(e->workloads[0].argv[1]), 4096);
		mc_experiment_destroy(&e);
	}
	b.len = 0;
	big[4096] = 'x';
	big[4097] = '\0';
	sb_add(&b,
	       "name: r\nworkloads:\n  - name: a\n    kind: exec\n    program: x\n"
	       "    args:\n      - \"%s\"\n",
	       big);
	expect_error(b.s, "t.yaml:7: workloads[0].args[0]: argument longer than 4096 bytes");
	free(big);
	b.len = 0;

	/* 257 environment variables are too many. */
	sb_add(&b, "name: r\nworkloads:\n  - name: a\n    kind: exec\n    program: x\n    env:\n");
	for (int i = 0; i < 257; i++)
		sb_add(&b, "      V%d: x\n", i);
	expect_error(b.s, "t.yaml:263: workloads[0].env.V256: too many entries (at most 256)");
	b.len = 0;

	/* Too many nodes. */
	sb_add(&b, "name: r\nx: [");
	for (int i = 0; i < MC_EXP_MAX_NODES; i++)
		sb_add(&b, "a,");
	sb_add(&b, "a]\n");
	expect_error(b.s, "t.yaml:2: more than 65536 YAML nodes");
	b.len = 0;

	/* Deep nesting at the limit still parses (and is then an unknown field). */
	sb_add(&b, "name: r\nx: ");
	for (int i = 0; i < MC_EXP_MAX_DEPTH - 1; i++)
		sb_add(&b, "[");
	for (int i = 0; i < MC_EXP_MAX_DEPTH - 1; i++)
		sb_add(&b, "]");
	sb_add(&b, "\n");
	expect_error(b.s,
	             "t.yaml:2: x: unknown field (expected name, seed, cluster, network, "
	             "workloads, results, faults, tracing, repeat, policy, prediction, simulate)");
	b.len = 0;

	/* Over 1 MiB. */
	{
		char err[256];
		struct mc_experiment *e;
		char *text = calloc(1, MC_EXP_MAX_BYTES + 1);

		assert_non_null(text);
		memset(text, '#', MC_EXP_MAX_BYTES + 1);
		e = mc_experiment_parse(text, MC_EXP_MAX_BYTES + 1, "t.yaml", err, sizeof(err));
		assert_null(e);
		assert_string_equal(err, "t.yaml: file larger than 1 MiB (1048577 bytes)");
		free(text);
	}
	free(b.s);
}

static void write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		assert_true(n > 0);
		data += n;
		len -= (size_t)n;
	}
	close(fd);
}

static void test_load_errors(void **state)
{
	char dir[] = "/tmp/mc-test-exp-XXXXXX", path[256], want[512], err[512];
	struct mc_experiment *e;
	char *text;

	(void)state;
	assert_non_null(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	e = mc_experiment_load(path, err, sizeof(err));
	assert_null(e);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
	assert_string_equal(err, want);

	e = mc_experiment_load(dir, err, sizeof(err));
	assert_null(e);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/empty.yaml", dir);
	write_file(path, "", 0);
	e = mc_experiment_load(path, err, sizeof(err));
	assert_null(e);
	snprintf(want, sizeof(want), "%s:1: empty file (an experiment needs at least a name)",
	         path);
	assert_string_equal(err, want);

	if (geteuid() != 0) { /* root reads a mode-000 file anyway */
		snprintf(path, sizeof(path), "%s/secret.yaml", dir);
		write_file(path, "name: x\n", 8);
		assert_int_equal(chmod(path, 0), 0);
		e = mc_experiment_load(path, err, sizeof(err));
		assert_null(e);
		snprintf(want, sizeof(want), "%s: cannot read: Permission denied", path);
		assert_string_equal(err, want);
		unlink(path);
	}

	/* Exactly 1 MiB is allowed; one more byte is not. */
	text = malloc(MC_EXP_MAX_BYTES + 1);
	assert_non_null(text);
	memset(text, '#', MC_EXP_MAX_BYTES);
	memcpy(text, "name: big\n", 10);
	text[MC_EXP_MAX_BYTES - 1] = '\n';
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	write_file(path, text, MC_EXP_MAX_BYTES);
	e = mc_experiment_load(path, err, sizeof(err));
	if (!e)
		fail_msg("%s", err);
	assert_string_equal(e->name, "big");
	assert_int_equal(e->text_len, MC_EXP_MAX_BYTES);
	mc_experiment_destroy(&e);
	text[MC_EXP_MAX_BYTES] = '\n';
	write_file(path, text, MC_EXP_MAX_BYTES + 1);
	e = mc_experiment_load(path, err, sizeof(err));
	assert_null(e);
	snprintf(want, sizeof(want), "%s: file larger than 1 MiB", path);
	assert_string_equal(err, want);
	free(text);

	assert_int_equal(mc_rm_rf(dir), 0);
}

struct collect {
	char seen[1024];
	const char *fail_key; /* fail on this key */
	const char *why;      /* with this reason ("" for none) */
};

static int collect_fn(void *ctx, const char *key, const char *value, char *err, size_t errlen)
{
	struct collect *c = ctx;
	size_t n = strlen(c->seen);

	snprintf(c->seen + n, sizeof(c->seen) - n, "%s=%s;", key, value);
	if (c->fail_key && strcmp(key, c->fail_key) == 0) {
		snprintf(err, errlen, "%s", c->why);
		return -ERANGE;
	}
	return 0;
}

static void test_network_each(void **state)
{
	char err[512] = "";
	struct mc_experiment *e;
	struct collect c = {.seen = ""};

	(void)state;
	e = mc_experiment_load(example_path("ring.yaml"), err, sizeof(err));
	if (!e)
		fail_msg("%s", err);
	assert_int_equal(mc_experiment_network_each(e, collect_fn, &c, err, sizeof(err)), 0);
	assert_string_equal(c.seen,
	                    "latency=50us;jitter=5us;bandwidth=1Gbit;loss=0%;"
	                    "topology.kind=fat-tree;topology.rack_size=16;"
	                    "topology.oversubscription=4;topology.intra.latency=10us;"
	                    "topology.intra.bandwidth=10Gbit;topology.inter.latency=100us;");

	c.seen[0] = '\0';
	c.fail_key = "topology.intra.bandwidth";
	c.why = "more than the host link";
	assert_int_equal(mc_experiment_network_each(e, collect_fn, &c, err, sizeof(err)), -ERANGE);
	snprintf(c.seen, sizeof(c.seen),
	         "%s:26: network.topology.intra.bandwidth: more than the host link",
	         example_path("ring.yaml"));
	assert_string_equal(err, c.seen);

	c.seen[0] = '\0';
	c.fail_key = "jitter";
	c.why = "";
	assert_int_equal(mc_experiment_network_each(e, collect_fn, &c, err, sizeof(err)), -ERANGE);
	snprintf(c.seen, sizeof(c.seen), "%s:19: network.jitter: invalid value \"5us\"",
	         example_path("ring.yaml"));
	assert_string_equal(err, c.seen);
	mc_experiment_destroy(&e);
}

/* Either a parse, or an error "t.yaml:LINE: ..." — never a crash or a lineless message. */
static void check_robust(const char *text, size_t len, const regex_t *re)
{
	char err[512] = "";
	struct mc_experiment *e = mc_experiment_parse(text, len, "t.yaml", err, sizeof(err));

	if (e) {
		json_t *j = mc_experiment_to_json(e);

		assert_non_null(j);
		json_decref(j);
		mc_experiment_destroy(&e);
		return;
	}
	if (regexec(re, err, 0, NULL, 0) != 0)
		fail_msg("error without a line: \"%s\" for input of %zu bytes:\n%.*s", err, len,
		         (int)len, text);
}

static void test_truncations_and_mutations(void **state)
{
	static const char subst[] = {':', '[',  '{', '"', '\'',       '\0',      '\t',
	                             '-', '\n', '*', '&', '!',        '|',       '>',
	                             '%', '@',  '#', ',', (char)0xff, (char)0xc3};
	unsigned parses = 0;
	regex_t re;

	(void)state;
	assert_int_equal(regcomp(&re, "^t\\.yaml:[0-9]+: .+", REG_EXTENDED | REG_NOSUB), 0);
	for (size_t i = 0; i < MC_ARRAY_SIZE(examples); i++) {
		size_t len;
		char *text = read_example(examples[i], &len);
		char *copy = malloc(len + 1);

		assert_non_null(copy);
		/* Every prefix, in a buffer of exactly that size (ASan catches over-reads). */
		for (size_t n = 0; n <= len; n++) {
			char *p = malloc(n ? n : 1);

			assert_non_null(p);
			memcpy(p, text, n);
			check_robust(p, n, &re);
			free(p);
			parses++;
		}
		/* Every byte replaced by characters that matter to YAML. */
		for (size_t at = 0; at < len; at++)
			for (size_t k = 0; k < sizeof(subst); k++) {
				memcpy(copy, text, len);
				copy[at] = subst[k];
				check_robust(copy, len, &re);
				parses++;
			}
		free(copy);
		free(text);
	}
	regfree(&re);
	print_message("robustness: %u inputs, none crashed\n", parses);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ring_example),
	        cmocka_unit_test(test_other_examples),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_default_yaml_is_the_defaults),
	        cmocka_unit_test(test_json_round_trip),
	        cmocka_unit_test(test_json_content),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_image_and_share),
	        cmocka_unit_test(test_tracing),
	        cmocka_unit_test(test_repeat_and_collect),
	        cmocka_unit_test(test_limits),
	        cmocka_unit_test(test_load_errors),
	        cmocka_unit_test(test_network_each),
	        cmocka_unit_test(test_truncations_and_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
