/* catalog.c — the SQLite catalog of runs (<root>/catalog.sqlite) and reading one run dir.
 *
 * Writers (mc_catalog_index_run(), one transaction per run) hold a shared flock(2) on the
 * results root while they write; mc_catalog_reindex() holds it exclusively while it builds
 * a temporary database and renames it over the catalog, so no run's update is lost to a
 * rebuild and a reader sees one whole catalog or the other. SQL is only ever made of fixed
 * text and whitelisted column names; every value is bound.
 */
#include "catalog.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "util.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* The runs columns, in the order of the schema; filters may name any of them. */
/* clang-format off */
static const char *const run_columns[] = {
        "id", "dir", "name", "status", "started", "ended", "seed", "guests", "workloads",
        "failed_reps", "faults_injected", "failures_detected", "traced", "microcosm", "qemu",
        "mpich", "guest_kernel", "hostname", "cluster", "fault_seed", "ok_reps", "pid",
        "host_boot_id", "error", "problems", NULL};

/* The runs columns that hold numbers: filters on them need a number. */
static const char *const int_columns[] = {
        "seed", "guests", "workloads", "failed_reps", "faults_injected", "failures_detected",
        "traced", "fault_seed", "ok_reps", "pid", NULL};
/* clang-format on */

static const char schema_sql[] =
        "CREATE TABLE IF NOT EXISTS runs(id TEXT PRIMARY KEY, dir TEXT, name TEXT, status TEXT,"
        " started TEXT, ended TEXT, seed INTEGER, guests INTEGER, workloads INTEGER,"
        " failed_reps INTEGER, faults_injected INTEGER, failures_detected INTEGER,"
        " traced INTEGER, microcosm TEXT, qemu TEXT, mpich TEXT, guest_kernel TEXT,"
        " hostname TEXT, cluster TEXT, fault_seed INTEGER, ok_reps INTEGER, pid INTEGER,"
        " host_boot_id TEXT, error TEXT, problems TEXT);"
        "CREATE TABLE IF NOT EXISTS metrics(run TEXT, metric TEXT, workload TEXT, unit TEXT,"
        " better TEXT, n INTEGER, median REAL, min REAL, max REAL, mad REAL,"
        " PRIMARY KEY (run, metric));"
        "CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics(metric, median);"
        "CREATE INDEX IF NOT EXISTS runs_by_started ON runs(started);";

static const char insert_run_sql[] =
        "INSERT OR REPLACE INTO runs(id, dir, name, status, started, ended, seed, guests,"
        " workloads, failed_reps, faults_injected, failures_detected, traced, microcosm, qemu,"
        " mpich, guest_kernel, hostname, cluster, fault_seed, ok_reps, pid, host_boot_id, error,"
        " problems) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
        " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)";

static const char *const metric_fields[] = {"workload", "unit", "better", "n",
                                            "median",   "min",  "max",    "mad"};

/* ---------- small helpers ---------- */

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return 1;
	return 0;
}

/* The host's boot id (no newline) into buf; "" if it cannot be read. */
static void read_boot_id(char *buf, size_t len)
{
	char *text = NULL;
	size_t n = 0;

	buf[0] = '\0';
	if (mc_read_file(BOOT_ID_PATH, 4096, &text, &n) == 0) {
		while (n && isspace((unsigned char)text[n - 1]))
			text[--n] = '\0';
		snprintf(buf, len, "%s", text);
	}
	free(text);
}

/* Loads <dir>/<name> (a JSON document) into *out. Returns 0; -ENOENT when the file is not
 * there (err says so); another negative errno with err "<dir>/<name>: why". */
static int load_json(const char *dir, const char *name, json_t **out, char *err, size_t errlen)
{
	char path[PATH_MAX];
	json_error_t je;
	struct stat st;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	if (stat(path, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	*out = json_load_file(path, 0, &je);
	if (!*out) {
		if (access(path, R_OK) < 0) {
			int e = errno;

			snprintf(err, errlen, "%s: %s", path, strerror(e));
			return -e;
		}
		snprintf(err, errlen, "%s: line %d column %d: %s", path, je.line, je.column,
		         je.text);
		return -EINVAL;
	}
	return 0;
}

/* Appends "; msg" (or msg) to a problems buffer. */
static void add_problem(char *buf, size_t len, const char *msg)
{
	size_t used = strlen(buf);

	if (used + 1 < len)
		snprintf(buf + used, len - used, "%s%s", used ? "; " : "", msg);
}

/* The last path component of path (trailing slashes ignored) into buf. */
static void base_name(const char *path, char *buf, size_t len)
{
	size_t n = strlen(path);
	const char *s;

	while (n > 1 && path[n - 1] == '/')
		n--;
	s = path + n;
	while (s > path && s[-1] != '/')
		s--;
	snprintf(buf, len, "%.*s", (int)(path + n - s), s);
}

/* A run's absolute directory and its id: the name it has under its root (a symlink's own
 * name), or the real directory's when it was given as "." or "..". */
static void run_id(const char *rundir, char *abs, size_t abslen, char *id, size_t idlen)
{
	if (!realpath(rundir, abs))
		snprintf(abs, abslen, "%s", rundir);
	base_name(rundir, id, idlen);
	if (!strcmp(id, ".") || !strcmp(id, "..") || !strcmp(id, "/"))
		base_name(abs, id, idlen);
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Names sort by number when both are numbers (reps 2 < 10), else by bytes. */
static int cmp_names(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	if (all_digits(x) && all_digits(y)) {
		size_t lx = strlen(x), ly = strlen(y);

		if (lx != ly)
			return lx < ly ? -1 : 1;
	}
	return strcmp(x, y);
}

/* The entries of dir (not "." or ".."), sorted. want_dirs: 0 everything, 1 directories
 * only (symlinks not followed), 2 directories and symlinks to directories. Caller owns
 * *names (and each name); free with free_names(). Returns the count or a negative errno. */
static int list_dir(const char *dir, int want_dirs, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*names = NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (want_dirs) {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
			            sizeof(path) ||
			    (want_dirs == 2 ? stat(path, &st) : lstat(path, &st)) < 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
		}
		if (n == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	*names = v;
	return (int)n;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Takes a lock on the results root (flock on the directory): LOCK_SH for writers of one
 * run, LOCK_EX for a rebuild. Returns the fd to close, or -1 when locking is impossible
 * (the caller carries on unlocked). */
static int lock_root(const char *root, int op)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (flock(fd, op) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void unlock_root(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---------- effective status ---------- */

/* The one rule (mc_run_status() and the catalog's mc_status() SQL function): status as
 * the manifest says it, pid (0: none) and run_boot (NULL: none) of a running run, boot_id
 * the host's ("" or NULL: unknown). */
static const char *status_eval(const char *status, long long pid, const char *run_boot,
                               const char *boot_id, char *why, size_t whylen)
{
	static const char *const known[] = {"finished", "failed", "interrupted", "unfinished"};

	if (why && whylen)
		why[0] = '\0';
	if (!status)
		return "unknown";
	for (size_t i = 0; i < MC_ARRAY_SIZE(known); i++)
		if (!strcmp(status, known[i]))
			return known[i];
	if (strcmp(status, "running"))
		return "unknown";
	if (pid <= 0 || pid > INT_MAX) {
		if (why && whylen)
			snprintf(why, whylen, "the manifest says running but records no pid");
		return "unfinished";
	}
	if (run_boot && run_boot[0] && boot_id && boot_id[0] && strcmp(run_boot, boot_id)) {
		if (why && whylen)
			snprintf(why, whylen, "the host has rebooted since (boot id %s, now %s)",
			         run_boot, boot_id);
		return "unfinished";
	}
	if (!mc_pid_alive((int)pid)) {
		if (why && whylen)
			snprintf(why, whylen, "the manifest says running but process %lld is gone",
			         pid);
		return "unfinished";
	}
	return "running";
}

const char *mc_run_status(const json_t *manifest, const char *boot_id, char *why, size_t whylen)
{
	char boot[64];
	json_t *pid;

	if (why && whylen)
		why[0] = '\0';
	if (!json_is_object(manifest))
		return "unknown";
	if (!boot_id) {
		read_boot_id(boot, sizeof(boot));
		boot_id = boot;
	}
	pid = json_object_get(manifest, "pid");
	return status_eval(json_string_value(json_object_get(manifest, "status")),
	                   json_is_integer(pid) ? (long long)json_integer_value(pid) : 0,
	                   json_string_value(json_object_get(manifest, "host_boot_id")), boot_id,
	                   why, whylen);
}

/* mc_status(status, pid, host_boot_id): the effective status in SQL; user data: boot id. */
static void sql_status(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *st = (const char *)sqlite3_value_text(argv[0]);
	const char *boot = (const char *)sqlite3_value_text(argv[2]);
	long long pid =
	        sqlite3_value_type(argv[1]) == SQLITE_INTEGER ? sqlite3_value_int64(argv[1]) : 0;

	(void)argc;
	if (!st) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, status_eval(st, pid, boot, sqlite3_user_data(ctx), NULL, 0), -1,
	                    SQLITE_STATIC);
}

/* ---------- the database ---------- */

/* Opens path; create: make the file if there is none. Returns 0 or a negative errno with
 * err set (and *db NULL). */
static int db_open(const char *path, int create, sqlite3 **db, char *err, size_t errlen)
{
	int flags = create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	int rc = sqlite3_open_v2(path, db, flags, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: open: %s", path,
		         *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(*db, MC_CATALOG_BUSY_MS);
	sqlite3_extended_result_codes(*db, 1);
	return 0;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *path, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/* One integer from a query without parameters; -1 with err set on failure (SQLITE_NOTADB
 * and the like: the file is not a catalog). */
static long long query_int(sqlite3 *db, const char *sql, int *sqlrc)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	*sqlrc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (*sqlrc == SQLITE_OK) {
		*sqlrc = sqlite3_step(st);
		if (*sqlrc == SQLITE_ROW) {
			v = sqlite3_column_int64(st, 0);
			*sqlrc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return v;
}

/* Checks the catalog's schema version; create: an empty database gets the schema (call
 * inside a write transaction). Returns 0, -EPROTO (not a catalog of this version: err says
 * to reindex) or -EIO. */
static int check_schema(sqlite3 *db, int create, const char *root, const char *path, char *err,
                        size_t errlen)
{
	long long version, tables;
	int rc;

	tables = query_int(db, "SELECT count(*) FROM sqlite_master", &rc);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
			snprintf(err, errlen,
			         "%s: not a catalog (%s): rebuild it with `microcosm results "
			         "reindex "
			         "%s`",
			         path, sqlite3_errstr(rc), root);
			return -EPROTO;
		}
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -EIO;
	}
	version = query_int(db, "PRAGMA user_version", &rc);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		return -EIO;
	}
	if (version == MC_CATALOG_VERSION)
		return 0;
	if (version == 0 && tables == 0) {
		char sql[sizeof(schema_sql) + 64];

		if (!create) {
			snprintf(err, errlen,
			         "%s: an empty database, not a catalog: build it with `microcosm "
			         "results reindex %s`",
			         path, root);
			return -EPROTO;
		}
		snprintf(sql, sizeof(sql), "%sPRAGMA user_version = %d;", schema_sql,
		         MC_CATALOG_VERSION);
		return exec_sql(db, sql, path, err, errlen);
	}
	if (version == 0)
		snprintf(err, errlen,
		         "%s: not a microcosm catalog (no schema version): rebuild it with "
		         "`microcosm results reindex %s`",
		         path, root);
	else
		snprintf(err, errlen,
		         "%s: catalog schema version %lld, this microcosm reads version %d: "
		         "rebuild it with `microcosm results reindex %s`",
		         path, version, MC_CATALOG_VERSION, root);
	return -EPROTO;
}

/* Binds a JSON value (string, integer, real, boolean; anything else is NULL). */
static int bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
	if (json_is_string(v))
		return sqlite3_bind_text(st, i, json_string_value(v), -1, SQLITE_TRANSIENT);
	if (json_is_integer(v))
		return sqlite3_bind_int64(st, i, (sqlite3_int64)json_integer_value(v));
	if (json_is_real(v))
		return sqlite3_bind_double(st, i, json_real_value(v));
	if (json_is_boolean(v))
		return sqlite3_bind_int(st, i, json_is_true(v));
	return sqlite3_bind_null(st, i);
}

/* ---------- reading a run ---------- */

/* Every workloads/<w>/<rep>/ of rundir with its result.json, in order, as
 * [{"workload", "rep", "result": "ok"|"failed"|"none"|"unreadable", "seconds", "failure"}].
 * Caller owns the result. */
static json_t *scan_reps(const char *rundir)
{
	char wdir[PATH_MAX], rdir[PATH_MAX];
	json_t *reps = json_array();
	char **ws = NULL;
	int nw;

	if ((size_t)snprintf(wdir, sizeof(wdir), "%s/workloads", rundir) >= sizeof(wdir))
		return reps;
	nw = list_dir(wdir, 1, &ws);
	for (int i = 0; i < nw; i++) {
		char **rs = NULL;
		int nr;

		if ((size_t)snprintf(rdir, sizeof(rdir), "%s/%s", wdir, ws[i]) >= sizeof(rdir))
			continue;
		nr = list_dir(rdir, 1, &rs);
		for (int k = 0; k < nr; k++) {
			char dir[PATH_MAX], e[PATH_MAX + 256];
			json_t *res = NULL, *o;
			int rc;

			o = json_pack("{s:s, s:s}", "workload", ws[i], "rep", rs[k]);
			if (!o)
				continue;
			if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", rdir, rs[k]) >=
			    sizeof(dir)) {
				json_decref(o);
				continue;
			}
			rc = load_json(dir, "result.json", &res, e, sizeof(e));
			if (rc == -ENOENT) {
				json_object_set_new(o, "result", json_string("none"));
			} else if (rc < 0 || !json_is_object(res)) {
				json_object_set_new(o, "result", json_string("unreadable"));
				json_object_set_new(
				        o, "failure",
				        json_string(rc < 0 ? e : "result.json: not an object"));
			} else {
				json_t *secs = json_object_get(res, "seconds");
				json_t *why = json_object_get(res, "failure");

				json_object_set_new(
				        o, "result",
				        json_string(json_is_true(json_object_get(res, "ok"))
				                            ? "ok"
				                            : "failed"));
				if (json_is_number(secs))
					json_object_set(o, "seconds", secs);
				if (json_is_string(why))
					json_object_set(o, "failure", why);
			}
			json_decref(res);
			json_array_append_new(reps, o);
		}
		free_names(rs, nr);
	}
	free_names(ws, nw);
	return reps;
}

/* The files of one run as the catalog and `show` read them. */
/* {injected, failed, not_injected, detected} counted from RUN/faults.jsonl; NULL when there
 * is no such file. Lines that do not parse (the last one of a killed run) are skipped. */
static json_t *tally_faults(const char *rundir)
{
	char path[PATH_MAX + 32], *text = NULL, *line, *save = NULL;
	int injected = 0, failed = 0, not_injected = 0, detected = 0;
	size_t len;

	snprintf(path, sizeof(path), "%s/faults.jsonl", rundir);
	if (mc_read_file(path, 64u << 20, &text, &len) < 0)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *r = json_loads(line, 0, NULL);
		const char *type = json_string_value(json_object_get(r, "type"));
		const char *outcome = json_string_value(json_object_get(r, "outcome"));

		if (type && !strcmp(type, "detection"))
			detected++;
		else if (type && !strcmp(type, "fault") && outcome)
			*(!strcmp(outcome, "injected") ? &injected
			  : !strcmp(outcome, "failed") ? &failed
			                               : &not_injected) += 1;
		json_decref(r);
	}
	free(text);
	return json_pack("{s:i, s:i, s:i, s:i, s:s}", "injected", injected, "failed", failed,
	                 "not_injected", not_injected, "detected", detected, "from",
	                 "faults.jsonl (the run did not count them)");
}

struct run_files {
	json_t *manifest;    /* required: an object */
	json_t *summary;     /* NULL: missing or unreadable */
	json_t *guests;      /* NULL: missing or unreadable; else an array */
	json_t *spec;        /* NULL: missing or unreadable */
	json_t *tally;       /* fault counts from faults.jsonl, when nothing else has them */
	char problems[1024]; /* the files that are there but could not be read, "; "-joined */
	int no_summary;      /* 1: there is no summary.json */
	int no_guests;       /* 1: there is no guests.json */
};

static void run_files_fini(struct run_files *f)
{
	json_decref(f->manifest);
	json_decref(f->summary);
	json_decref(f->guests);
	json_decref(f->spec);
	json_decref(f->tally);
	memset(f, 0, sizeof(*f));
}

/* Loads an optional file; one that is there but cannot be read (or is not of the kind
 * expected: object or array) is a problem; *missing (if not NULL) is set when it is not
 * there. */
static json_t *load_optional(const char *rundir, const char *name, int want_array,
                             struct run_files *f, int *missing)
{
	char e[PATH_MAX + 256];
	json_t *j = NULL;
	int rc = load_json(rundir, name, &j, e, sizeof(e));

	if (rc == -ENOENT) {
		if (missing)
			*missing = 1;
		return NULL;
	}
	if (rc < 0) {
		add_problem(f->problems, sizeof(f->problems), e);
		return NULL;
	}
	if (want_array ? !json_is_array(j) : !json_is_object(j)) {
		snprintf(e, sizeof(e), "%s/%s: not a JSON %s", rundir, name,
		         want_array ? "array" : "object");
		add_problem(f->problems, sizeof(f->problems), e);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Reads rundir's files. Returns 0, or a negative errno with err set when the manifest is
 * missing (-ENOENT: not a run) or unreadable (-EINVAL). */
static int run_files_load(const char *rundir, struct run_files *f, char *err, size_t errlen)
{
	int rc;

	memset(f, 0, sizeof(*f));
	if (!mc_is_dir(rundir)) {
		rc = access(rundir, F_OK) == 0 ? -ENOTDIR : -ENOENT;
		snprintf(err, errlen, "%s: %s", rundir,
		         rc == -ENOTDIR ? "not a directory" : "no such directory");
		return rc;
	}
	rc = load_json(rundir, "manifest.json", &f->manifest, err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "%s: not a run directory (no manifest.json)", rundir);
		return rc;
	}
	if (rc < 0)
		return rc == -EIO ? -EINVAL : rc; /* -EIO means a SQLite failure to callers */
	if (!json_is_object(f->manifest)) {
		snprintf(err, errlen, "%s/manifest.json: not a JSON object", rundir);
		run_files_fini(f);
		return -EINVAL;
	}
	f->summary = load_optional(rundir, "summary.json", 0, f, &f->no_summary);
	f->guests = load_optional(rundir, "guests.json", 1, f, &f->no_guests);
	f->spec = load_optional(rundir, "spec.json", 0, f, NULL);
	if (!json_is_object(json_object_get(f->summary, "faults")) &&
	    !json_is_object(json_object_get(f->manifest, "faults")))
		f->tally = tally_faults(rundir);
	return 0;
}

/* The fault counts: summary.json's, else the manifest's, else counted from faults.jsonl (a run
 * killed before it wrote them); borrowed, may be NULL. */
static json_t *fault_counts(const struct run_files *f)
{
	json_t *j = json_object_get(f->summary, "faults");

	if (!json_is_object(j))
		j = json_object_get(f->manifest, "faults");
	if (!json_is_object(j))
		j = f->tally;
	return json_is_object(j) ? j : NULL;
}

/* How many guests: guests.json's, else the spec's cluster.guests; NULL if neither. */
static json_t *guest_count(const struct run_files *f)
{
	json_t *n;

	if (f->guests)
		return json_integer((json_int_t)json_array_size(f->guests));
	n = json_object_get(json_object_get(f->spec, "cluster"), "guests");
	return json_is_integer(n) ? json_incref(n) : json_null();
}

/* The runs row of a run (every column of run_columns, values JSON). Caller owns it. */
static json_t *run_row(const char *rundir, const struct run_files *f, const char *boot_id)
{
	const json_t *m = f->manifest;
	json_t *row = json_object(), *v = json_object_get(m, "versions"), *wl, *faults;
	char abs[PATH_MAX], id[NAME_MAX + 1], trace[PATH_MAX + 8];
	json_int_t nw = 0, ok = 0, failed = 0;
	int have_reps = 0;

	if (!row)
		return NULL;
	run_id(rundir, abs, sizeof(abs), id, sizeof(id));
	json_object_set_new(row, "id", json_string(id));
	json_object_set_new(row, "dir", json_string(abs));
	json_object_set(row, "name", json_object_get(m, "name"));
	json_object_set_new(row, "status", json_string(mc_run_status(m, boot_id, NULL, 0)));
	json_object_set(row, "started", json_object_get(m, "started"));
	json_object_set(row, "ended", json_object_get(m, "ended"));
	json_object_set(row, "seed", json_object_get(m, "seed"));
	json_object_set_new(row, "guests", guest_count(f));

	wl = json_object_get(f->summary, "workloads");
	if (json_is_array(wl)) {
		size_t i;
		json_t *w;

		have_reps = 1;
		json_array_foreach(wl, i, w)
		{
			json_int_t runs = json_integer_value(json_object_get(w, "runs"));
			json_int_t nok = json_integer_value(json_object_get(w, "ok"));

			nw++;
			ok += nok;
			failed += runs > nok ? runs - nok : 0;
		}
	} else {
		/* No summary yet (a run killed before its first workload ended): the reps. */
		json_t *reps = scan_reps(rundir), *r;
		const char *last = "";
		size_t i;

		json_array_foreach(reps, i, r)
		{
			const char *w = json_string_value(json_object_get(r, "workload"));
			const char *res = json_string_value(json_object_get(r, "result"));

			have_reps = 1;
			if (strcmp(w, last))
				nw++;
			last = w;
			ok += !strcmp(res, "ok");
			failed += !strcmp(res, "failed");
		}
		json_decref(reps);
	}
	if (have_reps) {
		json_object_set_new(row, "workloads", json_integer(nw));
		json_object_set_new(row, "ok_reps", json_integer(ok));
		json_object_set_new(row, "failed_reps", json_integer(failed));
	}
	faults = fault_counts(f);
	if (faults) {
		json_object_set(row, "faults_injected", json_object_get(faults, "injected"));
		json_object_set(row, "failures_detected", json_object_get(faults, "detected"));
	}
	snprintf(trace, sizeof(trace), "%s/trace", rundir);
	json_object_set_new(row, "traced", json_integer(mc_is_dir(trace)));
	json_object_set(row, "microcosm", json_object_get(v, "microcosm"));
	json_object_set(row, "qemu", json_object_get(v, "qemu"));
	json_object_set(row, "mpich", json_object_get(v, "mpich"));
	json_object_set(row, "guest_kernel", json_object_get(v, "guest_kernel"));
	json_object_set(row, "hostname", json_object_get(json_object_get(m, "host"), "hostname"));
	json_object_set(row, "cluster", json_object_get(m, "cluster"));
	json_object_set(row, "fault_seed", json_object_get(m, "fault_seed"));
	json_object_set(row, "pid", json_object_get(m, "pid"));
	json_object_set(row, "host_boot_id", json_object_get(m, "host_boot_id"));
	json_object_set(row, "error", json_object_get(m, "error"));
	if (f->problems[0])
		json_object_set_new(row, "problems", json_string(f->problems));
	/* json_object_set with a NULL value fails and leaves the key out: bound as NULL. */
	return row;
}

/* Writes one run into an open catalog (inside the caller's transaction). Returns 0, 1 (a
 * file of the run could not be read: err says which) or a negative errno with err set. */
static int index_into(sqlite3 *db, const char *dbpath, const char *rundir, const char *boot_id,
                      char *err, size_t errlen)
{
	struct run_files f;
	sqlite3_stmt *st = NULL;
	json_t *row = NULL, *metrics;
	const char *id, *key;
	json_t *m;
	int rc;

	rc = run_files_load(rundir, &f, err, errlen);
	if (rc < 0)
		return rc;
	row = run_row(rundir, &f, boot_id);
	if (!row) {
		snprintf(err, errlen, "%s: out of memory", rundir);
		rc = -ENOMEM;
		goto out;
	}
	id = json_string_value(json_object_get(row, "id"));

	if (sqlite3_prepare_v2(db, insert_run_sql, -1, &st, NULL) != SQLITE_OK)
		goto sql_error;
	for (int i = 0; run_columns[i]; i++)
		if (bind_json(st, i + 1, json_object_get(row, run_columns[i])) != SQLITE_OK)
			goto sql_error;
	if (sqlite3_step(st) != SQLITE_DONE)
		goto sql_error;
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_prepare_v2(db, "DELETE FROM metrics WHERE run = ?1", -1, &st, NULL) !=
	            SQLITE_OK ||
	    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		goto sql_error;
	sqlite3_finalize(st);
	st = NULL;

	metrics = json_object_get(f.summary, "metrics");
	if (json_is_object(metrics)) {
		if (sqlite3_prepare_v2(db,
		                       "INSERT OR REPLACE INTO metrics(run, metric, workload, unit,"
		                       " better, n, median, min, max, mad)"
		                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
		                       -1, &st, NULL) != SQLITE_OK)
			goto sql_error;
		json_object_foreach(metrics, key, m)
		{
			if (!json_is_object(m))
				continue;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			if (sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
			    sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT) != SQLITE_OK)
				goto sql_error;
			for (size_t i = 0; i < MC_ARRAY_SIZE(metric_fields); i++)
				if (bind_json(st, (int)i + 3,
				              json_object_get(m, metric_fields[i])) != SQLITE_OK)
					goto sql_error;
			if (sqlite3_step(st) != SQLITE_DONE)
				goto sql_error;
		}
	}
	rc = 0;
	if (f.problems[0]) {
		snprintf(err, errlen, "%s", f.problems);
		rc = 1;
	}
	goto out;

sql_error:
	snprintf(err, errlen, "%s: run %s: %s", dbpath, rundir, sqlite3_errmsg(db));
	rc = -EIO;
out:
	sqlite3_finalize(st);
	json_decref(row);
	run_files_fini(&f);
	return rc;
}

/* ---------- the catalog's entry points ---------- */

static int catalog_path(const char *root, char *path, size_t len, char *err, size_t errlen)
{
	if ((size_t)snprintf(path, len, "%s/%s", root, MC_CATALOG_FILE) >= len) {
		snprintf(err, errlen, "%s: path too long", root);
		return -ENAMETOOLONG;
	}
	return 0;
}

int mc_catalog_index_run(const char *root, const char *rundir, char *err, size_t errlen)
{
	char path[PATH_MAX], boot[64];
	sqlite3 *db = NULL;
	int rc, lock;

	rc = catalog_path(root, path, sizeof(path), err, errlen);
	if (rc < 0)
		return rc;
	if (!mc_is_dir(root)) {
		snprintf(err, errlen, "%s: the results root is not a directory", root);
		return -ENOENT;
	}
	read_boot_id(boot, sizeof(boot));
	lock = lock_root(root, LOCK_SH);
	rc = db_open(path, 1, &db, err, errlen);
	if (rc < 0)
		goto out;
	rc = exec_sql(db, "BEGIN IMMEDIATE", path, err, errlen);
	if (rc < 0) {
		int code = sqlite3_extended_errcode(db) & 0xff;

		if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
			snprintf(err, errlen,
			         "%s: not a catalog (%s): rebuild it with `microcosm results "
			         "reindex %s`",
			         path, sqlite3_errstr(code), root);
			rc = -EPROTO;
		}
		goto out;
	}
	rc = check_schema(db, 1, root, path, err, errlen);
	if (rc >= 0)
		rc = index_into(db, path, rundir, boot, err, errlen);
	if (rc < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		char e2[512];
		int rc2 = exec_sql(db, "COMMIT", path, e2, sizeof(e2));

		if (rc2 < 0) {
			snprintf(err, errlen, "%s", e2);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			rc = rc2;
		}
	}
out:
	sqlite3_close(db);
	unlock_root(lock);
	return rc;
}

/* Whether <root>/<name> holds a manifest.json: 1 yes, 0 no (not a run), or a negative
 * errno (cannot tell). */
static int has_manifest(const char *root, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/manifest.json", root, name) >= sizeof(path))
		return -ENAMETOOLONG;
	if (stat(path, &st) == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

/* One line about a run directory the rebuild could not (wholly) read. */
static void warn_line(FILE *warn, const char *dir, const char *what, const char *why)
{
	if (warn)
		fprintf(warn, "%s: %s: %s\n", dir, what, why);
	else
		mc_warn("catalog: %s: %s: %s", dir, what, why);
}

int mc_catalog_reindex(const char *root, FILE *warn, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX], journal[PATH_MAX + 16], boot[64];
	char e[PATH_MAX + 1024], dir[PATH_MAX];
	sqlite3 *db = NULL;
	char **names = NULL;
	int n, rc, lock, count = 0;

	rc = catalog_path(root, path, sizeof(path), err, errlen);
	if (rc < 0)
		return rc;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp.%d", root, MC_CATALOG_FILE,
	                     (int)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", root);
		return -ENAMETOOLONG;
	}
	n = list_dir(root, 2, &names);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", root, strerror(-n));
		return n;
	}
	read_boot_id(boot, sizeof(boot));
	lock = lock_root(root, LOCK_EX);
	unlink(tmp);
	snprintf(journal, sizeof(journal), "%s-journal", tmp);
	unlink(journal);
	rc = db_open(tmp, 1, &db, err, errlen);
	if (rc < 0)
		goto out;
	rc = exec_sql(db, "BEGIN", tmp, err, errlen);
	if (rc < 0)
		goto out;
	rc = check_schema(db, 1, root, tmp, err, errlen);
	if (rc < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		int is_run;

		if (names[i][0] == '.')
			continue;
		is_run = has_manifest(root, names[i]);
		snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
		if (is_run < 0) {
			warn_line(warn, dir, "left out", strerror(-is_run));
			continue;
		}
		if (!is_run)
			continue;
		rc = index_into(db, tmp, dir, boot, e, sizeof(e));
		if (rc == -EIO) {
			snprintf(err, errlen, "%s", e);
			goto out;
		}
		if (rc < 0) {
			warn_line(warn, dir, "left out", e);
			continue;
		}
		if (rc == 1)
			warn_line(warn, dir, "indexed without what it could not read", e);
		count++;
	}
	rc = exec_sql(db, "COMMIT", tmp, err, errlen);
	if (rc < 0)
		goto out;
	if (sqlite3_close(db) != SQLITE_OK) {
		snprintf(err, errlen, "%s: close: %s", tmp, sqlite3_errmsg(db));
		rc = -EIO;
		goto out;
	}
	db = NULL;
	/* A hot journal of the old catalog (a writer killed mid-transaction) must not be
	 * played back into the new one. No writer is live: we hold the root exclusively. */
	snprintf(journal, sizeof(journal), "%s-journal", path);
	unlink(journal);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: rename to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	{
		int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	rc = count;
out:
	if (db) {
		sqlite3_close(db);
		snprintf(journal, sizeof(journal), "%s-journal", tmp);
		unlink(journal);
	}
	if (rc < 0)
		unlink(tmp);
	unlock_root(lock);
	free_names(names, n);
	return rc;
}

int mc_catalog_ensure(const char *root, FILE *warn, int *built, char *err, size_t errlen)
{
	char path[PATH_MAX], **names = NULL;
	struct stat st;
	int n, runs = 0, rc;

	if (built)
		*built = -1;
	rc = catalog_path(root, path, sizeof(path), err, errlen);
	if (rc < 0)
		return rc;
	if (stat(path, &st) == 0)
		return 0;
	n = list_dir(root, 2, &names);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", root, strerror(-n));
		return n;
	}
	for (int i = 0; i < n && !runs; i++)
		runs = names[i][0] != '.' && has_manifest(root, names[i]) > 0;
	free_names(names, n);
	if (!runs)
		return 0;
	rc = mc_catalog_reindex(root, warn, err, errlen);
	if (rc < 0)
		return rc;
	if (built)
		*built = rc;
	return 0;
}

/* ---------- filters and queries ---------- */

const char *const *mc_catalog_columns(void)
{
	return run_columns;
}

static const char *const op_text[] = {"=", "!=", "<", "<=", ">", ">=", "~"};

/* Parses a whole number: 1 integer, 2 other number, 0 not a number. */
static int parse_number(const char *s, long long *i, double *d)
{
	char *end;

	if (!*s)
		return 0;
	errno = 0;
	*i = strtoll(s, &end, 10);
	if (!*end && errno == 0) {
		*d = (double)*i;
		return 1;
	}
	errno = 0;
	*d = strtod(s, &end);
	if (!*end && errno == 0 && isfinite(*d))
		return 2;
	return 0;
}

int mc_catalog_filter_parse(const char *expr, struct mc_catalog_filter *f, char *err, size_t errlen)
{
	const char *p = expr + strcspn(expr, "=!<>~"), *k = expr, *v;
	size_t klen;
	int kind;

	memset(f, 0, sizeof(*f));
	if (!*p) {
		snprintf(err, errlen,
		         "filter '%s': no operator (KEY OP VALUE, OP one of = != < <= > >= ~)",
		         expr);
		return -EINVAL;
	}
	if (p[0] == '!' && p[1] == '=')
		f->op = MC_CATALOG_NE, v = p + 2;
	else if (p[0] == '<' && p[1] == '=')
		f->op = MC_CATALOG_LE, v = p + 2;
	else if (p[0] == '>' && p[1] == '=')
		f->op = MC_CATALOG_GE, v = p + 2;
	else if (p[0] == '=' && p[1] == '=')
		f->op = MC_CATALOG_EQ, v = p + 2;
	else if (p[0] == '<')
		f->op = MC_CATALOG_LT, v = p + 1;
	else if (p[0] == '>')
		f->op = MC_CATALOG_GT, v = p + 1;
	else if (p[0] == '=')
		f->op = MC_CATALOG_EQ, v = p + 1;
	else if (p[0] == '~')
		f->op = MC_CATALOG_SUB, v = p + 1;
	else {
		snprintf(err, errlen,
		         "filter '%s': unknown operator '%.2s' (one of = != < <= > >= ~)", expr, p);
		return -EINVAL;
	}
	while (k < p && isspace((unsigned char)*k))
		k++;
	klen = (size_t)(p - k);
	while (klen && isspace((unsigned char)k[klen - 1]))
		klen--;
	while (isspace((unsigned char)*v))
		v++;
	if (!klen) {
		snprintf(err, errlen, "filter '%s': no key before '%s'", expr, op_text[f->op]);
		return -EINVAL;
	}
	if (klen >= sizeof(f->key) || strlen(v) >= sizeof(f->value)) {
		snprintf(err, errlen, "filter '%s': too long", expr);
		return -EINVAL;
	}
	snprintf(f->value, sizeof(f->value), "%s", v);
	for (size_t n = strlen(f->value); n && isspace((unsigned char)f->value[n - 1]); n--)
		f->value[n - 1] = '\0';
	kind = parse_number(f->value, &f->integer, &f->number);
	f->numeric = kind != 0;
	f->is_integer = kind == 1;
	if (klen > 7 && !strncmp(k, "metric:", 7)) {
		f->metric = 1;
		snprintf(f->key, sizeof(f->key), "%.*s", (int)klen - 7, k + 7);
		if (f->op == MC_CATALOG_SUB) {
			snprintf(err, errlen,
			         "filter '%s': a metric compares its median with a number: use one "
			         "of = != < <= > >=, not ~",
			         expr);
			return -EINVAL;
		}
		if (!f->numeric) {
			snprintf(err, errlen,
			         "filter '%s': '%s' is not a number (a metric compares its median)",
			         expr, f->value);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(f->key, sizeof(f->key), "%.*s", (int)klen, k);
	if (!strcmp(f->key, "metric:")) {
		snprintf(err, errlen, "filter '%s': no metric name after 'metric:'", expr);
		return -EINVAL;
	}
	if (!in_list(run_columns, f->key)) {
		char keys[512] = "";

		for (int i = 0; run_columns[i]; i++)
			add_problem(keys, sizeof(keys), run_columns[i]);
		for (char *c = keys; (c = strchr(c, ';'));)
			*c = ',';
		snprintf(err, errlen, "filter '%s': unknown key '%s' (one of %s, or metric:NAME)",
		         expr, f->key, keys);
		return -EINVAL;
	}
	if (f->op != MC_CATALOG_SUB && in_list(int_columns, f->key) && !f->numeric) {
		snprintf(err, errlen, "filter '%s': %s is a number, '%s' is not", expr, f->key,
		         f->value);
		return -EINVAL;
	}
	return 0;
}

/* Appends to a growing SQL text; 0 or -ENOMEM. */
static int sql_add(char **sql, size_t *len, const char *text)
{
	size_t n = strlen(text);
	char *s = realloc(*sql, *len + n + 1);

	if (!s)
		return -ENOMEM;
	memcpy(s + *len, text, n + 1);
	*sql = s;
	*len += n;
	return 0;
}

/* The SELECT of mc_catalog_query(): fixed text, whitelisted column names, '?' for values. */
static char *query_sql(const struct mc_catalog_filter *f, size_t nf)
{
	char *sql = NULL, part[512];
	size_t len = 0;
	int bad = 0;

	bad |= sql_add(&sql, &len, "SELECT * FROM (SELECT ");
	for (int i = 0; run_columns[i]; i++) {
		if (!strcmp(run_columns[i], "status"))
			snprintf(part, sizeof(part),
			         "%smc_status(status, pid, host_boot_id) AS status", i ? ", " : "");
		else
			snprintf(part, sizeof(part), "%s%s", i ? ", " : "", run_columns[i]);
		bad |= sql_add(&sql, &len, part);
	}
	bad |= sql_add(&sql, &len, " FROM runs) AS r WHERE 1");
	for (size_t i = 0; i < nf; i++) {
		const char *op = op_text[f[i].op];

		if (f[i].metric)
			snprintf(part, sizeof(part),
			         " AND EXISTS (SELECT 1 FROM metrics AS m WHERE m.run = r.id AND"
			         " m.metric = ? AND m.median %s ?)",
			         op);
		else if (f[i].op == MC_CATALOG_SUB)
			snprintf(part, sizeof(part), " AND instr(CAST(r.%s AS TEXT), ?) > 0",
			         f[i].key);
		else if (f[i].op == MC_CATALOG_NE)
			snprintf(part, sizeof(part), " AND r.%s IS NOT ?", f[i].key);
		else
			snprintf(part, sizeof(part), " AND r.%s %s ?", f[i].key, op);
		bad |= sql_add(&sql, &len, part);
	}
	bad |= sql_add(&sql, &len, " ORDER BY r.started IS NULL, r.started DESC, r.id DESC");
	if (bad) {
		free(sql);
		return NULL;
	}
	return sql;
}

static int bind_filter(sqlite3_stmt *st, int *k, const struct mc_catalog_filter *f)
{
	int rc = SQLITE_OK;

	if (f->metric) {
		rc = sqlite3_bind_text(st, ++*k, f->key, -1, SQLITE_TRANSIENT);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_double(st, ++*k, f->number);
		return rc;
	}
	if (f->op != MC_CATALOG_SUB && in_list(int_columns, f->key))
		return f->is_integer ? sqlite3_bind_int64(st, ++*k, f->integer)
		                     : sqlite3_bind_double(st, ++*k, f->number);
	return sqlite3_bind_text(st, ++*k, f->value, -1, SQLITE_TRANSIENT);
}

int mc_catalog_query(const char *root, const struct mc_catalog_filter *f, size_t nf, json_t **rows,
                     char *err, size_t errlen)
{
	char path[PATH_MAX], *sql = NULL, *boot;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	struct stat sb;
	int rc, k = 0;

	*rows = NULL;
	rc = catalog_path(root, path, sizeof(path), err, errlen);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nf; i++) {
		if (!f[i].metric && !in_list(run_columns, f[i].key)) {
			snprintf(err, errlen, "filter key '%s': not a column of runs", f[i].key);
			return -EINVAL;
		}
		if ((unsigned)f[i].op > MC_CATALOG_SUB || (f[i].metric && !f[i].numeric)) {
			snprintf(err, errlen, "filter on '%s': bad operator or value", f[i].key);
			return -EINVAL;
		}
	}
	if (stat(path, &sb) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			snprintf(
			        err, errlen,
			        "%s: no catalog yet (build it with `microcosm results reindex %s`)",
			        path, root);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = db_open(path, 0, &db, err, errlen);
	if (rc < 0)
		return rc;
	rc = check_schema(db, 0, root, path, err, errlen);
	if (rc < 0)
		goto out;
	boot = malloc(64);
	if (!boot) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	read_boot_id(boot, 64);
	if (sqlite3_create_function_v2(db, "mc_status", 3, SQLITE_UTF8, boot, sql_status, NULL,
	                               NULL, free) != SQLITE_OK)
		goto sql_error;
	sql = query_sql(f, nf);
	if (!sql) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto sql_error;
	for (size_t i = 0; i < nf; i++)
		if (bind_filter(st, &k, &f[i]) != SQLITE_OK)
			goto sql_error;
	*rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();

		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const char *name = sqlite3_column_name(st, c);
			json_t *v;

			switch (sqlite3_column_type(st, c)) {
			case SQLITE_INTEGER:
				v = json_integer((json_int_t)sqlite3_column_int64(st, c));
				break;
			case SQLITE_FLOAT:
				v = json_real(sqlite3_column_double(st, c));
				break;
			case SQLITE_TEXT:
				v = json_string((const char *)sqlite3_column_text(st, c));
				break;
			default:
				v = json_null();
			}
			json_object_set_new(o, name, v);
		}
		json_array_append_new(*rows, o);
	}
	if (rc != SQLITE_DONE)
		goto sql_error;
	rc = 0;
	goto out;

sql_error:
	snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
	rc = -EIO;
	json_decref(*rows);
	*rows = NULL;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(sql);
	return rc;
}

/* ---------- one run directory ---------- */

/* Every *.json under rundir (but trace/), recursively, without following symlinks: the
 * count checked in *n, those that do not parse appended to bad as {"path", "error"}. */
static void check_json_tree(const char *rundir, const char *rel, int depth, json_t *bad, int *n)
{
	char dir[PATH_MAX], path[PATH_MAX], sub[PATH_MAX];
	char **names = NULL;
	int count;

	if (depth > 16)
		return;
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s%s", rundir, rel[0] ? "/" : "", rel) >=
	    sizeof(dir))
		return;
	count = list_dir(dir, 0, &names);
	if (count < 0) {
		json_array_append_new(bad, json_pack("{s:s, s:s}", "path", rel[0] ? rel : ".",
		                                     "error", strerror(-count)));
		return;
	}
	for (int i = 0; i < count; i++) {
		struct stat st;
		size_t len = strlen(names[i]);

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path) ||
		    (size_t)snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
		                     names[i]) >= sizeof(sub) ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (!(depth == 0 && !strcmp(names[i], "trace")))
				check_json_tree(rundir, sub, depth + 1, bad, n);
		} else if (S_ISREG(st.st_mode) && len > 5 && !strcmp(names[i] + len - 5, ".json")) {
			json_error_t je;
			json_t *j = json_load_file(path, 0, &je);
			char e[256];

			++*n;
			if (j) {
				json_decref(j);
				continue;
			}
			snprintf(e, sizeof(e), "line %d column %d: %s", je.line, je.column,
			         je.text);
			json_array_append_new(bad,
			                      json_pack("{s:s, s:s}", "path", sub, "error", e));
		}
	}
	free_names(names, count);
}

/* The guests by state from guests.json: {"count", "states": {state: n}, "failed": [...]}. */
static json_t *guests_summary(const json_t *guests)
{
	json_t *states = json_object(), *failed = json_array(), *g;
	size_t i;

	json_array_foreach(guests, i, g)
	{
		const char *s = json_string_value(json_object_get(g, "state"));
		json_t *c;

		if (!s)
			s = "unknown";
		c = json_object_get(states, s);
		json_object_set_new(states, s, json_integer(c ? json_integer_value(c) + 1 : 1));
		if (!strcmp(s, "failed"))
			json_array_append_new(
			        failed,
			        json_pack("{s:s?, s:s?}", "name",
			                  json_string_value(json_object_get(g, "name")), "reason",
			                  json_string_value(json_object_get(g, "reason"))));
	}
	return json_pack("{s:I, s:o, s:o}", "count", (json_int_t)json_array_size(guests), "states",
	                 states, "failed", failed);
}

int mc_run_describe(const char *rundir, json_t **out, char *err, size_t errlen)
{
	static const char *const copied[] = {"name",     "cluster", "spec_file",  "started",
	                                     "ended",    "seed",    "fault_seed", "error",
	                                     "versions", "host",    "timings"};
	struct run_files f;
	char why[256], abs[PATH_MAX], id[NAME_MAX + 1], trace[PATH_MAX + 8];
	json_t *d, *wl, *metrics, *faults, *bad, *missing, *t;
	int rc, nchecked = 0;

	*out = NULL;
	rc = run_files_load(rundir, &f, err, errlen);
	if (rc < 0)
		return rc;
	d = json_object();
	run_id(rundir, abs, sizeof(abs), id, sizeof(id));
	json_object_set_new(d, "id", json_string(id));
	json_object_set_new(d, "dir", json_string(abs));
	json_object_set_new(d, "status",
	                    json_string(mc_run_status(f.manifest, NULL, why, sizeof(why))));
	if (why[0])
		json_object_set_new(d, "status_reason", json_string(why));
	json_object_set(d, "manifest_status", json_object_get(f.manifest, "status"));
	for (size_t i = 0; i < MC_ARRAY_SIZE(copied); i++) {
		json_t *v = json_object_get(f.manifest, copied[i]);

		if (v)
			json_object_set(d, copied[i], v);
	}
	if (f.guests) {
		json_object_set_new(d, "guests", guests_summary(f.guests));
	} else {
		json_object_set_new(d, "guests", json_null());
		t = json_object_get(json_object_get(f.spec, "cluster"), "guests");
		if (json_is_integer(t))
			json_object_set(d, "guests_planned", t);
	}

	wl = json_object_get(f.summary, "workloads");
	if (json_is_array(wl)) {
		json_t *arr = json_array(), *w;
		size_t i;

		json_array_foreach(wl, i, w)
		{
			json_t *o = json_object();
			static const char *const keys[] = {"workload", "kind", "runs", "ok",
			                                   "median_s"};

			for (size_t k = 0; k < MC_ARRAY_SIZE(keys); k++)
				if (json_object_get(w, keys[k]))
					json_object_set(o, keys[k], json_object_get(w, keys[k]));
			json_array_append_new(arr, o);
		}
		json_object_set_new(d, "workloads", arr);
	} else {
		json_object_set_new(d, "workloads", json_null());
	}

	metrics = json_object_get(f.summary, "metrics");
	if (json_is_object(metrics)) {
		json_t *mo = json_object(), *m;
		const char *key;

		json_object_foreach(metrics, key, m)
		{
			json_t *o = json_object();
			static const char *const keys[] = {"workload", "unit", "better", "n",
			                                   "median",   "min",  "max",    "mad"};

			for (size_t k = 0; k < MC_ARRAY_SIZE(keys); k++)
				if (json_object_get(m, keys[k]))
					json_object_set(o, keys[k], json_object_get(m, keys[k]));
			json_object_set_new(mo, key, o);
		}
		json_object_set_new(d, "metrics", mo);
	} else {
		json_object_set_new(d, "metrics", json_null());
	}

	faults = fault_counts(&f);
	json_object_set(d, "faults", faults ? faults : json_null());

	snprintf(trace, sizeof(trace), "%s/trace", rundir);
	t = json_object_get(f.manifest, "trace");
	json_object_set_new(d, "trace",
	                    json_pack("{s:b, s:O?, s:O?}", "present", mc_is_dir(trace), "error",
	                              json_object_get(t, "error"), "guests_error",
	                              json_object_get(t, "guests_error")));

	json_object_set_new(d, "reps", scan_reps(rundir));

	bad = json_array();
	check_json_tree(rundir, "", 0, bad, &nchecked);
	missing = json_array();
	if (f.no_summary)
		json_array_append_new(missing, json_string("summary.json"));
	if (f.no_guests)
		json_array_append_new(missing, json_string("guests.json"));
	json_object_set_new(d, "files",
	                    json_pack("{s:i, s:o, s:o}", "json_checked", nchecked, "bad_json", bad,
	                              "missing", missing));
	run_files_fini(&f);
	*out = d;
	return 0;
}

/* ---------- printing a description ---------- */

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? s : dflt;
}

/* A JSON scalar as text ("-" when missing). */
static void fmt_value(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%.6g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, len, "-");
}

/* "k1 v1, k2 v2" of an object's scalar fields; "-" when empty or missing. */
static void print_pairs(FILE *fp, const char *label, const json_t *o, const char *suffix)
{
	const char *key;
	json_t *v;
	int first = 1;

	fprintf(fp, "%-10s", label);
	json_object_foreach((json_t *)o, key, v)
	{
		char buf[256];

		fmt_value(v, buf, sizeof(buf));
		fprintf(fp, "%s%s %s%s", first ? " " : ", ", key, buf,
		        json_is_number(v) ? suffix : "");
		first = 0;
	}
	fprintf(fp, "%s\n", first ? " -" : "");
}

void mc_run_describe_print(FILE *fp, const json_t *d)
{
	const json_t *g = json_object_get(d, "guests"), *wl = json_object_get(d, "workloads");
	const json_t *metrics = json_object_get(d, "metrics"), *files = json_object_get(d, "files");
	const json_t *reps = json_object_get(d, "reps"), *tr = json_object_get(d, "trace");
	const json_t *v;
	char a[256], b[256];
	const char *key;
	size_t i;

	fprintf(fp, "%-10s %s\n", "run", str_or(d, "id", "-"));
	fprintf(fp, "%-10s %s\n", "dir", str_or(d, "dir", "-"));
	fprintf(fp, "%-10s %s\n", "name", str_or(d, "name", "-"));
	fprintf(fp, "%-10s %s", "status", str_or(d, "status", "-"));
	if (json_is_string(json_object_get(d, "status_reason")))
		fprintf(fp, " (%s)", str_or(d, "status_reason", ""));
	fputc('\n', fp);
	if (json_is_string(json_object_get(d, "error")))
		fprintf(fp, "%-10s %s\n", "error", str_or(d, "error", "-"));
	fprintf(fp, "%-10s %s\n", "cluster", str_or(d, "cluster", "-"));
	fprintf(fp, "%-10s %s\n", "started", str_or(d, "started", "-"));
	fprintf(fp, "%-10s %s\n", "ended", str_or(d, "ended", "- (not recorded)"));
	fmt_value(json_object_get(d, "seed"), a, sizeof(a));
	fmt_value(json_object_get(d, "fault_seed"), b, sizeof(b));
	fprintf(fp, "%-10s %s (fault seed %s)\n", "seed", a, b);
	print_pairs(fp, "versions", json_object_get(d, "versions"), "");
	print_pairs(fp, "host", json_object_get(d, "host"), "");
	print_pairs(fp, "timings", json_object_get(d, "timings"), "");

	if (json_is_object(g)) {
		int first = 1;

		fprintf(fp, "%-10s %lld:", "guests",
		        (long long)json_integer_value(json_object_get(g, "count")));
		json_object_foreach((json_t *)json_object_get(g, "states"), key, v)
		{
			fprintf(fp, "%s %lld %s", first ? "" : ",",
			        (long long)json_integer_value(v), key);
			first = 0;
		}
		fputc('\n', fp);
		json_array_foreach(json_object_get(g, "failed"), i, v)
		        fprintf(fp, "%-10s   %s failed: %s\n", "", str_or(v, "name", "?"),
		                str_or(v, "reason", "no reason recorded"));
	} else {
		fmt_value(json_object_get(d, "guests_planned"), a, sizeof(a));
		if (json_is_integer(json_object_get(d, "guests_planned")))
			fprintf(fp, "%-10s not recorded (no guests.json; %s planned)\n", "guests",
			        a);
		else
			fprintf(fp, "%-10s not recorded (no guests.json)\n", "guests");
	}

	if (json_is_array(wl)) {
		fprintf(fp, "workloads\n  %-16s %-9s %4s %4s %9s\n", "WORKLOAD", "KIND", "RUNS",
		        "OK", "MEDIAN_S");
		json_array_foreach(wl, i, v)
		{
			fmt_value(json_object_get(v, "median_s"), a, sizeof(a));
			fprintf(fp, "  %-16s %-9s %4lld %4lld %9s\n", str_or(v, "workload", "?"),
			        str_or(v, "kind", "-"),
			        (long long)json_integer_value(json_object_get(v, "runs")),
			        (long long)json_integer_value(json_object_get(v, "ok")), a);
		}
	} else {
		fprintf(fp, "%-10s not recorded (no summary.json)\n", "workloads");
	}

	if (json_is_object(metrics) && json_object_size(metrics)) {
		fprintf(fp, "metrics\n  %-36s %12s %12s %12s %4s %s\n", "METRIC", "MEDIAN", "MIN",
		        "MAX", "N", "UNIT");
		json_object_foreach((json_t *)metrics, key, v)
		{
			char med[32], mn[32], mx[32], n[32];

			fmt_value(json_object_get(v, "median"), med, sizeof(med));
			fmt_value(json_object_get(v, "min"), mn, sizeof(mn));
			fmt_value(json_object_get(v, "max"), mx, sizeof(mx));
			fmt_value(json_object_get(v, "n"), n, sizeof(n));
			fprintf(fp, "  %-36s %12s %12s %12s %4s %s\n", key, med, mn, mx, n,
			        str_or(v, "unit", ""));
		}
	} else {
		fprintf(fp, "%-10s none recorded\n", "metrics");
	}

	if (json_is_object(json_object_get(d, "faults")))
		print_pairs(fp, "faults", json_object_get(d, "faults"), "");
	else
		fprintf(fp, "%-10s none recorded\n", "faults");

	fprintf(fp, "%-10s %s", "trace",
	        json_is_true(json_object_get(tr, "present")) ? "yes (trace/)" : "no");
	if (json_is_string(json_object_get(tr, "error")))
		fprintf(fp, " (error: %s)", str_or(tr, "error", ""));
	if (json_is_string(json_object_get(tr, "guests_error")))
		fprintf(fp, " (guests: %s)", str_or(tr, "guests_error", ""));
	fputc('\n', fp);

	fprintf(fp, "%-10s %zu\n", "reps", json_array_size(reps));
	json_array_foreach(reps, i, v)
	{
		const char *res = str_or(v, "result", "?");

		fmt_value(json_object_get(v, "seconds"), a, sizeof(a));
		fprintf(fp, "  workloads/%s/%s/: %s", str_or(v, "workload", "?"),
		        str_or(v, "rep", "?"),
		        !strcmp(res, "none") ? "no result.json (not finished)" : res);
		if (json_object_get(v, "seconds"))
			fprintf(fp, " in %s s", a);
		if (json_object_get(v, "failure"))
			fprintf(fp, ": %s", str_or(v, "failure", ""));
		fputc('\n', fp);
	}

	fprintf(fp, "%-10s %lld JSON file%s checked", "files",
	        (long long)json_integer_value(json_object_get(files, "json_checked")),
	        json_integer_value(json_object_get(files, "json_checked")) == 1 ? "" : "s");
	if (json_array_size(json_object_get(files, "bad_json")))
		fprintf(fp, ", %zu do not parse",
		        json_array_size(json_object_get(files, "bad_json")));
	else
		fprintf(fp, ", all parse");
	json_array_foreach(json_object_get(files, "missing"), i, v)
	        fprintf(fp, "%s%s", i ? ", " : "; missing: ", json_string_value(v));
	fputc('\n', fp);
	json_array_foreach(json_object_get(files, "bad_json"), i, v)
	        fprintf(fp, "  %s: %s\n", str_or(v, "path", "?"), str_or(v, "error", "?"));
}
