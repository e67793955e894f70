/* test_catalog.c — the results catalog, filters, reindex, and `results show` on fixture runs. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "catalog.h"
#include "commands.h"
#include "util.h"

/* The temporary directory every test makes its results roots in. */
struct fixture {
	char base[PATH_MAX]; /* mkdtemp'd; removed by the group teardown */
	int dead_pid;        /* a process that has exited and been reaped */
	char boot[64];       /* this host's boot id */
};

static void write_file(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX];
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(mc_mkdir_p(dir, 0755), 0);
	assert_int_equal(mc_write_file_atomic(path, text, strlen(text), 0644), 0);
}

/* A fresh results root <base>/<name>. */
static void new_root(const struct fixture *fx, const char *name, char *root, size_t len)
{
	snprintf(root, len, "%s/%s", fx->base, name);
	assert_int_equal(mc_mkdir_p(root, 0755), 0);
}

#define FINISHED "ring-20251126-100000"
#define FAILED   "farm-20251126-110000"
#define UNFIN    "ring-20251126-120000"
#define BADSUM   "bad-20251126-090000"

/* Four runs (finished with metrics, failed, unfinished with a dead pid, one with a corrupt
 * summary.json), a directory that is no run and one whose manifest does not parse. */
static void make_runs(const struct fixture *fx, const char *root)
{
	char text[2048];

	write_file(root, FINISHED "/manifest.json",
	           "{\"name\": \"ring\", \"status\": \"finished\", \"pid\": 1, \"cluster\": \"c1\","
	           " \"started\": \"2025-11-26T10:00:00Z\", \"ended\": \"2025-11-26T10:05:00Z\","
	           " \"seed\": 42, \"versions\": {\"microcosm\": \"0.1.0\", \"qemu\": \"QEMU 8.2\","
	           " \"mpich\": \"4.1\", \"guest_kernel\": \"6.1.0\", \"assets\": \"abc\"},"
	           " \"host\": {\"kernel\": \"6.1\", \"machine\": \"x86_64\", \"cpus\": 8,"
	           " \"mem_mib\": 16000, \"hostname\": \"h1\"},"
	           " \"timings\": {\"up_s\": 12.5, \"down_s\": 1.5}, \"trace\": {\"dir\": "
	           "\"trace\"}}");
	write_file(root, FINISHED "/spec.json",
	           "{\"name\": \"ring\", \"cluster\": {\"guests\": 4}}");
	write_file(root, FINISHED "/summary.json",
	           "{\"workloads\": [{\"workload\": \"ring\", \"kind\": \"mpi\", \"runs\": 3,"
	           " \"ok\": 3, \"median_s\": 4.2, \"reps\": []}],"
	           " \"metrics\": {\"ring/8B/lap_us_median\": {\"workload\": \"ring\","
	           " \"unit\": \"us\", \"better\": \"lower\", \"values\": [812.0, 790.5, 801.2],"
	           " \"n\": 3, \"median\": 801.2, \"min\": 790.5, \"max\": 812.0, \"mad\": 10.8},"
	           " \"ring/seconds\": {\"workload\": \"ring\", \"unit\": \"s\", \"better\": "
	           "\"lower\","
	           " \"values\": [4.1, 4.2, 4.3], \"n\": 3, \"median\": 4.2, \"min\": 4.1,"
	           " \"max\": 4.3, \"mad\": 0.1}}}");
	write_file(root, FINISHED "/guests.json",
	           "[{\"name\": \"g0000\", \"state\": \"ready\"}, {\"name\": \"g0001\", \"state\":"
	           " \"ready\"}, {\"name\": \"g0002\", \"state\": \"ready\"}, {\"name\": \"g0003\","
	           " \"state\": \"failed\", \"reason\": \"heartbeat timeout\"}]");
	for (int r = 0; r < 3; r++) {
		char rel[128];

		snprintf(rel, sizeof(rel), FINISHED "/workloads/ring/%d/result.json", r);
		write_file(root, rel, "{\"workload\": \"ring\", \"ok\": true, \"seconds\": 4.2}");
	}
	/* trace/ is not checked: LTTng's own files are not ours. */
	write_file(root, FINISHED "/trace/odd.json", "{not json");

	write_file(root, FAILED "/manifest.json",
	           "{\"name\": \"farm\", \"status\": \"failed\", \"pid\": 1,"
	           " \"started\": \"2025-11-26T11:00:00Z\", \"ended\": \"2025-11-26T11:02:00Z\","
	           " \"seed\": 7, \"fault_seed\": 9, \"error\": \"a workload failed\","
	           " \"faults\": {\"planned\": 2, \"injected\": 2, \"failed\": 0,"
	           " \"not_injected\": 0, \"detected\": 1}}");
	write_file(root, FAILED "/summary.json",
	           "{\"workloads\": [{\"workload\": \"farm\", \"kind\": \"taskfarm\", \"runs\": 2,"
	           " \"ok\": 1, \"median_s\": 30.0}],"
	           " \"metrics\": {\"farm/tasks_per_s\": {\"workload\": \"farm\", \"unit\": \"/s\","
	           " \"better\": \"higher\", \"n\": 1, \"median\": 1000.0, \"min\": 1000.0,"
	           " \"max\": 1000.0, \"mad\": 0.0}},"
	           " \"faults\": {\"planned\": 2, \"injected\": 2, \"failed\": 0,"
	           " \"not_injected\": 0, \"detected\": 1}}");
	write_file(root, FAILED "/guests.json", "[{\"name\": \"g0000\", \"state\": \"stopped\"}]");

	/* Killed with SIGKILL halfway: a running manifest, a spec, one rep done, one begun. */
	snprintf(text, sizeof(text),
	         "{\"name\": \"ring\", \"status\": \"running\", \"pid\": %d,"
	         " \"host_boot_id\": \"%s\", \"started\": \"2025-11-26T12:00:00Z\", \"seed\": 43,"
	         " \"timings\": {\"up_s\": 10.0}}",
	         fx->dead_pid, fx->boot);
	write_file(root, UNFIN "/manifest.json", text);
	write_file(root, UNFIN "/spec.json", "{\"name\": \"ring\", \"cluster\": {\"guests\": 8}}");
	write_file(root, UNFIN "/workloads/ring/0/result.json",
	           "{\"workload\": \"ring\", \"ok\": true, \"seconds\": 5.0}");
	write_file(root, UNFIN "/workloads/ring/1/stdout.jsonl", "{\"bytes\": 8, \"lap_us\": 8");

	write_file(root, BADSUM "/manifest.json",
	           "{\"name\": \"bad\", \"status\": \"finished\", \"pid\": 1,"
	           " \"started\": \"2025-11-26T09:00:00Z\", \"seed\": 1}");
	write_file(root, BADSUM "/summary.json", "{\"workloads\": [");
	write_file(root, BADSUM "/guests.json", "[]");

	write_file(root, "notes/readme.txt", "not a run\n");
	write_file(root, "broken-run/manifest.json", "{\"name\": ");
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char *text = NULL;
	size_t len;
	pid_t pid;

	if (!fx)
		return -1;
	snprintf(fx->base, sizeof(fx->base), "%s/test_catalog.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fx->base)) {
		free(fx);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
		free(fx);
		return -1;
	}
	fx->dead_pid = (int)pid;
	if (mc_read_file("/proc/sys/kernel/random/boot_id", 4096, &text, &len) == 0) {
		snprintf(fx->boot, sizeof(fx->boot), "%.36s", text);
		free(text);
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx) {
		mc_rm_rf(fx->base);
		free(fx);
	}
	return 0;
}

static json_t *query(const char *root, const char *const *exprs)
{
	struct mc_catalog_filter f[8];
	char err[1024] = "";
	size_t n = 0;
	json_t *rows = NULL;

	for (; exprs && exprs[n]; n++)
		if (mc_catalog_filter_parse(exprs[n], &f[n], err, sizeof(err)) < 0)
			fail_msg("filter %s: %s", exprs[n], err);
	if (mc_catalog_query(root, f, n, &rows, err, sizeof(err)) < 0)
		fail_msg("query %s: %s", root, err);
	return rows;
}

/* The ids of a query's rows, space-separated. */
static void ids_of(const json_t *rows, char *buf, size_t len)
{
	size_t i;
	json_t *r;

	buf[0] = '\0';
	json_array_foreach(rows, i, r)
	{
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%s", i ? " " : "",
		         json_string_value(json_object_get(r, "id")));
	}
}

static void expect_ids(const char *root, const char *const *exprs, const char *want)
{
	json_t *rows = query(root, exprs);
	char got[1024];

	ids_of(rows, got, sizeof(got));
	json_decref(rows);
	assert_string_equal(got, want);
}

static const json_t *row_of(const json_t *rows, const char *id)
{
	size_t i;
	json_t *r;

	json_array_foreach(
	        rows, i, r) if (!strcmp(json_string_value(json_object_get(r, "id")), id)) return r;
	fail_msg("no row %s", id);
	return NULL;
}

static long long int_of(const json_t *row, const char *key)
{
	const json_t *v = json_object_get(row, key);

	if (!json_is_integer(v))
		fail_msg("%s: %s is not an integer", json_string_value(json_object_get(row, "id")),
		         key);
	return (long long)json_integer_value(v);
}

static void index_all(const char *root)
{
	static const char *const runs[] = {FINISHED, FAILED, UNFIN};
	char dir[PATH_MAX], err[1024];

	for (size_t i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, runs[i]);
		if (mc_catalog_index_run(root, dir, err, sizeof(err)) != 0)
			fail_msg("index %s: %s", dir, err);
	}
	snprintf(dir, sizeof(dir), "%s/%s", root, BADSUM);
	assert_int_equal(mc_catalog_index_run(root, dir, err, sizeof(err)), 1);
	assert_non_null(strstr(err, BADSUM "/summary.json: line 1"));
}

static int count_rows(const char *db_path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n = -1;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---------- tests ---------- */

static void test_status(void **state)
{
	const struct fixture *fx = *state;
	char why[256], text[512];
	json_t *m;

	assert_string_equal(mc_run_status(NULL, "b", why, sizeof(why)), "unknown");
	m = json_pack("{s:s}", "status", "finished");
	assert_string_equal(mc_run_status(m, "b", why, sizeof(why)), "finished");
	assert_string_equal(why, "");
	json_decref(m);
	m = json_pack("{s:s}", "status", "interrupted");
	assert_string_equal(mc_run_status(m, NULL, NULL, 0), "interrupted");
	json_decref(m);
	m = json_pack("{s:s}", "status", "weird");
	assert_string_equal(mc_run_status(m, NULL, NULL, 0), "unknown");
	json_decref(m);

	/* running without a pid */
	m = json_pack("{s:s}", "status", "running");
	assert_string_equal(mc_run_status(m, "b", why, sizeof(why)), "unfinished");
	assert_string_equal(why, "the manifest says running but records no pid");
	json_decref(m);

	/* running, the process gone */
	m = json_pack("{s:s, s:i, s:s}", "status", "running", "pid", fx->dead_pid, "host_boot_id",
	              "b");
	assert_string_equal(mc_run_status(m, "b", why, sizeof(why)), "unfinished");
	snprintf(text, sizeof(text), "the manifest says running but process %d is gone",
	         fx->dead_pid);
	assert_string_equal(why, text);
	json_decref(m);

	/* running, alive (this process), same boot; then another boot */
	m = json_pack("{s:s, s:i, s:s}", "status", "running", "pid", (int)getpid(), "host_boot_id",
	              "b");
	assert_string_equal(mc_run_status(m, "b", why, sizeof(why)), "running");
	assert_string_equal(mc_run_status(m, "c", why, sizeof(why)), "unfinished");
	assert_string_equal(why, "the host has rebooted since (boot id b, now c)");
	json_decref(m);

	/* the real boot id, read from /proc */
	m = json_pack("{s:s, s:i, s:s}", "status", "running", "pid", (int)getpid(), "host_boot_id",
	              fx->boot);
	assert_string_equal(mc_run_status(m, NULL, NULL, 0), "running");
	json_decref(m);
	m = json_pack("{s:s, s:i, s:s}", "status", "running", "pid", (int)getpid(), "host_boot_id",
	              "00000000-0000-0000-0000-000000000000");
	assert_string_equal(mc_run_status(m, NULL, NULL, 0), "unfinished");
	json_decref(m);
}

static void test_index_rows(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], dir[PATH_MAX + 32], db[PATH_MAX + 32], err[1024];
	const json_t *r;
	json_t *rows;

	new_root(fx, "index", root, sizeof(root));
	make_runs(fx, root);
	index_all(root);

	/* Not runs: no manifest, a manifest that does not parse. */
	snprintf(dir, sizeof(dir), "%s/notes", root);
	assert_int_equal(mc_catalog_index_run(root, dir, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "notes: not a run directory (no manifest.json)"));
	snprintf(dir, sizeof(dir), "%s/broken-run", root);
	assert_int_equal(mc_catalog_index_run(root, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "broken-run/manifest.json: line 1"));

	rows = query(root, NULL);
	assert_int_equal(json_array_size(rows), 4);
	{
		char got[512];

		ids_of(rows, got, sizeof(got));
		assert_string_equal(got, UNFIN " " FAILED " " FINISHED " " BADSUM);
	}
	r = row_of(rows, FINISHED);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "finished");
	assert_string_equal(json_string_value(json_object_get(r, "name")), "ring");
	assert_string_equal(json_string_value(json_object_get(r, "hostname")), "h1");
	assert_string_equal(json_string_value(json_object_get(r, "qemu")), "QEMU 8.2");
	assert_string_equal(json_string_value(json_object_get(r, "ended")), "2025-11-26T10:05:00Z");
	assert_int_equal(int_of(r, "guests"), 4);
	assert_int_equal(int_of(r, "workloads"), 1);
	assert_int_equal(int_of(r, "ok_reps"), 3);
	assert_int_equal(int_of(r, "failed_reps"), 0);
	assert_int_equal(int_of(r, "traced"), 1);
	assert_int_equal(int_of(r, "seed"), 42);
	assert_true(json_is_null(json_object_get(r, "faults_injected")));
	assert_true(json_is_null(json_object_get(r, "problems")));

	r = row_of(rows, FAILED);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "failed");
	assert_int_equal(int_of(r, "failed_reps"), 1);
	assert_int_equal(int_of(r, "faults_injected"), 2);
	assert_int_equal(int_of(r, "failures_detected"), 1);
	assert_int_equal(int_of(r, "fault_seed"), 9);
	assert_int_equal(int_of(r, "traced"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "error")), "a workload failed");

	/* Unfinished: guests from the spec, reps from the result files. */
	r = row_of(rows, UNFIN);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "unfinished");
	assert_int_equal(int_of(r, "guests"), 8);
	assert_int_equal(int_of(r, "workloads"), 1);
	assert_int_equal(int_of(r, "ok_reps"), 1);
	assert_int_equal(int_of(r, "failed_reps"), 0);
	assert_int_equal(int_of(r, "pid"), fx->dead_pid);
	assert_true(json_is_null(json_object_get(r, "ended")));

	r = row_of(rows, BADSUM);
	assert_string_equal(json_string_value(json_object_get(r, "status")), "finished");
	assert_non_null(
	        strstr(json_string_value(json_object_get(r, "problems")), "summary.json: line 1"));
	assert_int_equal(int_of(r, "guests"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "dir")) +
	                            strlen(json_string_value(json_object_get(r, "dir"))) -
	                            strlen(BADSUM),
	                    BADSUM);
	json_decref(rows);

	snprintf(db, sizeof(db), "%s/%s", root, MC_CATALOG_FILE);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM metrics"), 3);
	assert_int_equal(count_rows(db, "PRAGMA user_version"), MC_CATALOG_VERSION);
	/* Indexing again replaces, never duplicates. */
	index_all(root);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM runs"), 4);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM metrics"), 3);
}

/* `microcosm run` indexes its run at the start (running) and at the end. */
static void test_index_lifecycle(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], dir[PATH_MAX + 32], err[1024], text[512];
	const char *const running[] = {"status=running", NULL};
	json_t *rows;

	new_root(fx, "life", root, sizeof(root));
	snprintf(text, sizeof(text),
	         "{\"name\": \"life\", \"status\": \"running\", \"pid\": %d, \"host_boot_id\":"
	         " \"%s\", \"started\": \"2025-11-27T00:00:00Z\"}",
	         (int)getpid(), fx->boot);
	write_file(root, "life-1/manifest.json", text);
	snprintf(dir, sizeof(dir), "%s/life-1", root);
	if (mc_catalog_index_run(root, dir, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	expect_ids(root, running, "life-1");

	write_file(root, "life-1/manifest.json",
	           "{\"name\": \"life\", \"status\": \"finished\", \"pid\": 1,"
	           " \"started\": \"2025-11-27T00:00:00Z\", \"ended\": \"2025-11-27T00:01:00Z\"}");
	write_file(
	        root, "life-1/summary.json",
	        "{\"workloads\": [], \"metrics\": {\"x/seconds\": {\"median\": 2.0, \"n\": 1}}}");
	if (mc_catalog_index_run(root, dir, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	expect_ids(root, running, "");
	rows = query(root, NULL);
	assert_int_equal(json_array_size(rows), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "status")),
	                    "finished");
	json_decref(rows);
	{
		const char *const m[] = {"metric:x/seconds=2", NULL};

		expect_ids(root, m, "life-1");
	}
}

static void test_filters(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX];

	new_root(fx, "filters", root, sizeof(root));
	make_runs(fx, root);
	index_all(root);
#define F(...) ((const char *const[]){__VA_ARGS__, NULL})
	expect_ids(root, F("name=ring"), UNFIN " " FINISHED);
	expect_ids(root, F("name == ring"), UNFIN " " FINISHED);
	expect_ids(root, F("name!=ring"), FAILED " " BADSUM);
	expect_ids(root, F("name~ar"), FAILED);
	expect_ids(root, F("id~-1200"), UNFIN);
	expect_ids(root, F("status=unfinished"), UNFIN);
	expect_ids(root, F("status!=finished"), UNFIN " " FAILED);
	expect_ids(root, F("guests>=4"), UNFIN " " FINISHED);
	expect_ids(root, F("guests<4"), FAILED " " BADSUM);
	expect_ids(root, F("seed=42"), FINISHED);
	expect_ids(root, F("seed>7", "seed<=43"), UNFIN " " FINISHED);
	expect_ids(root, F("started<2025-11-26T10:30"), FINISHED " " BADSUM);
	expect_ids(root, F("started>=2025-11-26T11"), UNFIN " " FAILED);
	expect_ids(root, F("failed_reps>0"), FAILED);
	expect_ids(root, F("faults_injected>=1"), FAILED);
	expect_ids(root, F("traced=1"), FINISHED);
	expect_ids(root, F("hostname=h1"), FINISHED);
	expect_ids(root, F("metric:ring/8B/lap_us_median<900"), FINISHED);
	expect_ids(root, F("metric:ring/8B/lap_us_median>900"), "");
	expect_ids(root, F("metric:ring/8B/lap_us_median<=801.2"), FINISHED);
	expect_ids(root, F("metric:ring/8B/lap_us_median!=1"), FINISHED);
	expect_ids(root, F("metric:farm/tasks_per_s>=1000", "status=failed"), FAILED);
	expect_ids(root, F("metric:farm/tasks_per_s>=1000", "status=finished"), "");
	expect_ids(root, F("metric:no/such<1e9"), "");
	/* Values are bound, never SQL: quotes and SQL text are just text. */
	expect_ids(root, F("name=ring' OR '1'='1"), "");
	expect_ids(root, F("name~%"), "");
#undef F
}

static void expect_filter_error(const char *expr, const char *want)
{
	struct mc_catalog_filter f;
	char err[1024] = "";

	assert_int_equal(mc_catalog_filter_parse(expr, &f, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("filter %s: got '%s', want it to contain '%s'", expr, err, want);
}

static void test_bad_filters(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], r[PATH_MAX + 8];

	expect_filter_error("colour=red", "filter 'colour=red': unknown key 'colour' (one of id, ");
	expect_filter_error("guests>=many", "filter 'guests>=many': guests is a number, 'many' is "
	                                    "not");
	expect_filter_error("name", "filter 'name': no operator");
	expect_filter_error("=ring", "filter '=ring': no key before '='");
	expect_filter_error("name!ring", "filter 'name!ring': unknown operator '!r'");
	expect_filter_error("metric:x~1", "filter 'metric:x~1': a metric compares its median");
	expect_filter_error("metric:x<abc", "filter 'metric:x<abc': 'abc' is not a number");
	expect_filter_error("metric:<3", "filter 'metric:<3': no metric name after 'metric:'");
	expect_filter_error("status;DROP TABLE runs=1", "unknown key 'status;DROP TABLE runs'");

	/* The verb: exit 2 and nothing listed. */
	new_root(fx, "badverb", root, sizeof(root));
	make_runs(fx, root);
	snprintf(r, sizeof(r), "%s", root);
	{
		char *argv[] = {"results", "ls", "-r", r, "--filter", "colour=red", NULL};

		assert_int_equal(cmd_results(6, argv), 2);
	}
	{
		char *argv[] = {"results", "ls", "-r", r, "--filter", "guests>x", NULL};

		assert_int_equal(cmd_results(6, argv), 2);
	}
	{
		char *argv[] = {"results", "frobnicate", NULL};

		assert_int_equal(cmd_results(2, argv), 2);
	}
	{
		char *argv[] = {"results", "ls", "--help", NULL};

		assert_int_equal(cmd_results(3, argv), 0);
	}
}

static void test_reindex(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], db[PATH_MAX + 32], err[1024], *warnings = NULL;
	json_t *before, *after;
	struct stat st1, st2;
	sqlite3 *old = NULL;
	sqlite3_stmt *st = NULL;
	size_t wlen = 0;
	FILE *warn;

	new_root(fx, "reindex", root, sizeof(root));
	make_runs(fx, root);
	snprintf(db, sizeof(db), "%s/%s", root, MC_CATALOG_FILE);

	warn = open_memstream(&warnings, &wlen);
	assert_int_equal(mc_catalog_reindex(root, warn, err, sizeof(err)), 4);
	fclose(warn);
	/* Named: the run left out and the one indexed without its summary; not "notes". */
	assert_non_null(strstr(warnings, "broken-run: left out: "));
	assert_non_null(strstr(warnings, "broken-run/manifest.json: line 1"));
	assert_non_null(strstr(warnings, BADSUM ": indexed without what it could not read: "));
	assert_null(strstr(warnings, "notes"));
	free(warnings);

	/* Idempotent. */
	before = query(root, NULL);
	assert_int_equal(mc_catalog_reindex(root, NULL, err, sizeof(err)), 4);
	after = query(root, NULL);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM metrics"), 3);

	/* Atomic: a reader in the middle of a read keeps the whole old catalog; the new one
	 * is another file renamed over it, and no temporary file stays behind. */
	assert_int_equal(stat(db, &st1), 0);
	assert_int_equal(sqlite3_open_v2(db, &old, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(old, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(old, "SELECT count(*) FROM runs", -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 4);
	sqlite3_reset(st);
	write_file(root, "new-20251127-000000/manifest.json",
	           "{\"name\": \"new\", \"status\": \"finished\", \"started\": "
	           "\"2025-11-27T00:00:00Z\"}");
	assert_int_equal(mc_catalog_reindex(root, NULL, err, sizeof(err)), 5);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 4);
	sqlite3_finalize(st);
	sqlite3_exec(old, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(old);
	assert_int_equal(stat(db, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM runs"), 5);
	/* Only the catalog and the run directories are left in the root. */
	{
		DIR *d = opendir(root);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)))
			if (strstr(de->d_name, "catalog") && strcmp(de->d_name, MC_CATALOG_FILE))
				fail_msg("left behind in %s: %s", root, de->d_name);
		closedir(d);
	}
}

/* Several runs end at once (and a rebuild runs meanwhile): every one is in the catalog. */
static void test_concurrent(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], db[PATH_MAX + 32];
	pid_t kids[9];
	enum { N = 8 };

	new_root(fx, "concurrent", root, sizeof(root));
	for (int i = 0; i < N; i++) {
		char rel[64], text[256];

		snprintf(rel, sizeof(rel), "c%d/manifest.json", i);
		snprintf(text, sizeof(text),
		         "{\"name\": \"c\", \"status\": \"finished\", \"started\":"
		         " \"2025-11-27T00:00:0%dZ\"}",
		         i);
		write_file(root, rel, text);
		snprintf(rel, sizeof(rel), "c%d/summary.json", i);
		write_file(root, rel,
		           "{\"workloads\": [], \"metrics\": {\"c/seconds\": {\"median\": 1.0}}}");
	}
	for (int i = 0; i <= N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char dir[PATH_MAX + 16], err[1024];
			int rc;

			snprintf(dir, sizeof(dir), "%s/c%d", root, i);
			rc = i == N ? (mc_catalog_reindex(root, NULL, err, sizeof(err)) == N ? 0
			                                                                     : -1)
			            : mc_catalog_index_run(root, dir, err, sizeof(err));
			if (rc != 0)
				fprintf(stderr, "child %d: %s\n", i, err);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i <= N; i++) {
		int status = 0;

		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	snprintf(db, sizeof(db), "%s/%s", root, MC_CATALOG_FILE);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM runs"), N);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM metrics"), N);
}

/* An old or foreign database: a clear error that says to reindex, which repairs it. */
static void test_foreign_catalog(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], db[PATH_MAX + 32], dir[PATH_MAX + 32], err[1024];
	json_t *rows = NULL;
	sqlite3 *h = NULL;

	new_root(fx, "foreign", root, sizeof(root));
	make_runs(fx, root);
	snprintf(db, sizeof(db), "%s/%s", root, MC_CATALOG_FILE);
	snprintf(dir, sizeof(dir), "%s/%s", root, FINISHED);

	write_file(root, MC_CATALOG_FILE,
	           "this is not an SQLite database, but long enough to "
	           "look like one might have been here..................."
	           "...................................................");
	assert_int_equal(mc_catalog_query(root, NULL, 0, &rows, err, sizeof(err)), -EPROTO);
	assert_null(rows);
	assert_non_null(strstr(err, "not a catalog"));
	assert_non_null(strstr(err, "microcosm results reindex"));
	assert_int_equal(mc_catalog_index_run(root, dir, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "microcosm results reindex"));

	unlink(db);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE runs(id TEXT); PRAGMA user_version = 99;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(mc_catalog_query(root, NULL, 0, &rows, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "catalog schema version 99, this microcosm reads version 1: "
	                            "rebuild it with `microcosm results reindex "));
	assert_int_equal(mc_catalog_index_run(root, dir, err, sizeof(err)), -EPROTO);

	unlink(db);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE other(x);", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(mc_catalog_query(root, NULL, 0, &rows, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not a microcosm catalog (no schema version)"));

	assert_int_equal(mc_catalog_reindex(root, NULL, err, sizeof(err)), 4);
	rows = query(root, NULL);
	assert_int_equal(json_array_size(rows), 4);
	json_decref(rows);
}

/* `results ls` with no catalog yet: built on demand; an empty root stays empty. */
static void test_built_on_demand(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], empty[PATH_MAX], db[PATH_MAX + 32], err[1024];
	struct stat st;
	int built = 0;

	new_root(fx, "empty", empty, sizeof(empty));
	assert_int_equal(mc_catalog_ensure(empty, NULL, &built, err, sizeof(err)), 0);
	assert_int_equal(built, -1);
	snprintf(db, sizeof(db), "%s/%s", empty, MC_CATALOG_FILE);
	assert_int_not_equal(stat(db, &st), 0);
	{
		char *argv[] = {"results", "ls", "-r", empty, NULL};

		assert_int_equal(cmd_results(4, argv), 0);
	}

	new_root(fx, "ondemand", root, sizeof(root));
	make_runs(fx, root);
	snprintf(db, sizeof(db), "%s/%s", root, MC_CATALOG_FILE);
	assert_int_not_equal(stat(db, &st), 0);
	assert_int_equal(mc_catalog_ensure(root, NULL, &built, err, sizeof(err)), 0);
	assert_int_equal(built, 4);
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(mc_catalog_ensure(root, NULL, &built, err, sizeof(err)), 0);
	assert_int_equal(built, -1);

	/* The verb does the same. */
	unlink(db);
	{
		char *argv[] = {"results", "ls", "-r", root, "--filter", "status=unfinished", NULL};

		assert_int_equal(cmd_results(6, argv), 0);
	}
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(count_rows(db, "SELECT count(*) FROM runs"), 4);
}

static char *show_text(const json_t *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	mc_run_describe_print(fp, d);
	fclose(fp);
	return text;
}

static void expect_in(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("wanted '%s' in:\n%s", want, text);
}

/* `results show` on a run killed halfway: what is there, and "unfinished". */
static void test_show_unfinished(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], dir[PATH_MAX + 32], err[1024], why[256];
	json_t *d = NULL, *reps, *files;
	char *text;

	new_root(fx, "show", root, sizeof(root));
	make_runs(fx, root);
	snprintf(dir, sizeof(dir), "%s/%s", root, UNFIN);
	if (mc_run_describe(dir, &d, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(json_string_value(json_object_get(d, "status")), "unfinished");
	assert_string_equal(json_string_value(json_object_get(d, "manifest_status")), "running");
	snprintf(why, sizeof(why), "the manifest says running but process %d is gone",
	         fx->dead_pid);
	assert_string_equal(json_string_value(json_object_get(d, "status_reason")), why);
	assert_true(json_is_null(json_object_get(d, "guests")));
	assert_int_equal(json_integer_value(json_object_get(d, "guests_planned")), 8);
	assert_true(json_is_null(json_object_get(d, "workloads")));
	assert_true(json_is_null(json_object_get(d, "metrics")));
	reps = json_object_get(d, "reps");
	assert_int_equal(json_array_size(reps), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(reps, 0), "result")),
	                    "ok");
	assert_string_equal(json_string_value(json_object_get(json_array_get(reps, 1), "result")),
	                    "none");
	files = json_object_get(d, "files");
	assert_int_equal(json_integer_value(json_object_get(files, "json_checked")), 3);
	assert_int_equal(json_array_size(json_object_get(files, "bad_json")), 0);
	assert_int_equal(json_array_size(json_object_get(files, "missing")), 2);

	text = show_text(d);
	expect_in(text, "run        " UNFIN "\n");
	expect_in(text, "status     unfinished (the manifest says running but process ");
	expect_in(text, "ended      - (not recorded)\n");
	expect_in(text, "seed       43 (fault seed -)\n");
	expect_in(text, "timings    up_s 10\n");
	expect_in(text, "guests     not recorded (no guests.json; 8 planned)\n");
	expect_in(text, "workloads  not recorded (no summary.json)\n");
	expect_in(text, "  workloads/ring/0/: ok in 5 s\n");
	expect_in(text, "  workloads/ring/1/: no result.json (not finished)\n");
	expect_in(text, "files      3 JSON files checked, all parse; missing: summary.json, "
	                "guests.json\n");
	free(text);
	json_decref(d);

	/* The verb: exit 0 by id under the root, as JSON too. */
	{
		char *argv[] = {"results", "show", "-r", root, UNFIN, NULL};

		assert_int_equal(cmd_results(5, argv), 0);
	}
	{
		char *argv[] = {"results", "show", "--json", dir, NULL};

		assert_int_equal(cmd_results(4, argv), 0);
	}
}

static void test_show_others(void **state)
{
	const struct fixture *fx = *state;
	char root[PATH_MAX], dir[PATH_MAX + 32], err[1024];
	json_t *d = NULL, *bad;
	char *text;

	new_root(fx, "show2", root, sizeof(root));
	make_runs(fx, root);

	snprintf(dir, sizeof(dir), "%s/%s", root, FINISHED);
	if (mc_run_describe(dir, &d, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(json_string_value(json_object_get(d, "status")), "finished");
	assert_null(json_object_get(d, "status_reason"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "guests"), "count")),
	                 4);
	/* trace/odd.json is not checked. */
	assert_int_equal(json_array_size(json_object_get(json_object_get(d, "files"), "bad_json")),
	                 0);
	text = show_text(d);
	expect_in(text, "guests     4: 3 ready, 1 failed\n");
	expect_in(text, "g0003 failed: heartbeat timeout\n");
	expect_in(text, "  ring             mpi          3    3       4.2\n");
	expect_in(text, "  ring/8B/lap_us_median");
	expect_in(text, "801.2        790.5          812    3 us\n");
	expect_in(text, "trace      yes (trace/)\n");
	expect_in(text, "versions   microcosm 0.1.0, qemu QEMU 8.2, mpich 4.1, guest_kernel 6.1.0");
	expect_in(text, "files      7 JSON files checked, all parse\n");
	free(text);
	json_decref(d);

	snprintf(dir, sizeof(dir), "%s/%s", root, BADSUM);
	if (mc_run_describe(dir, &d, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	bad = json_object_get(json_object_get(d, "files"), "bad_json");
	assert_int_equal(json_array_size(bad), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(bad, 0), "path")),
	                    "summary.json");
	text = show_text(d);
	expect_in(text, ", 1 do not parse\n  summary.json: line 1");
	free(text);
	json_decref(d);

	/* Not runs: exit 1. */
	snprintf(dir, sizeof(dir), "%s/notes", root);
	assert_int_equal(mc_run_describe(dir, &d, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "notes: not a run directory (no manifest.json)"));
	assert_null(d);
	snprintf(dir, sizeof(dir), "%s/broken-run", root);
	assert_int_equal(mc_run_describe(dir, &d, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "broken-run/manifest.json: line 1"));
	{
		char *argv[] = {"results", "show", dir, NULL};

		assert_int_equal(cmd_results(3, argv), 1);
	}
	{
		char *argv[] = {"results", "show", "-r", root, "no-such-run", NULL};

		assert_int_equal(cmd_results(5, argv), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_status),          cmocka_unit_test(test_index_rows),
	        cmocka_unit_test(test_index_lifecycle), cmocka_unit_test(test_filters),
	        cmocka_unit_test(test_bad_filters),     cmocka_unit_test(test_reindex),
	        cmocka_unit_test(test_concurrent),      cmocka_unit_test(test_foreign_catalog),
	        cmocka_unit_test(test_built_on_demand), cmocka_unit_test(test_show_unfinished),
	        cmocka_unit_test(test_show_others),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
