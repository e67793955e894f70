/* catalog.h — the SQLite catalog of the runs under a results root, and reading one run. */
#ifndef MC_CATALOG_H
#define MC_CATALOG_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* The catalog's file under the results root. */
#define MC_CATALOG_FILE "catalog.sqlite"

/* Its schema version (PRAGMA user_version); a database with another one is refused with
 * advice to run `microcosm results reindex`. */
#define MC_CATALOG_VERSION 1

/* How long a writer waits for another one (several runs may end at once), in ms. */
#define MC_CATALOG_BUSY_MS 10000

/* ---------- a run's effective status ---------- */

/* The status of a run as a person should read it, from its manifest.json: the manifest's
 * "finished", "failed" or "interrupted"; for "running", "running" while the `microcosm run`
 * process (manifest "pid") is alive in this host boot, else "unfinished": the manifest has
 * no pid, the pid is gone, or "host_boot_id" differs from boot_id. A manifest without a
 * status, or with one this version does not know, is "unknown".
 *
 * manifest: borrowed, may be NULL ("unknown"). boot_id: the host's current boot id, NULL
 * to read /proc/sys/kernel/random/boot_id (the check is skipped if that cannot be read).
 * why: if not NULL, receives why an "unfinished" run is one (else ""), e.g.
 * "process 4242 is gone". Returns a static string. Caveat: a recycled pid looks alive. */
const char *mc_run_status(const json_t *manifest, const char *boot_id, char *why, size_t whylen);

/* ---------- the catalog ---------- */

/* Inserts or replaces one run (its row in runs and its rows in metrics) in
 * <root>/catalog.sqlite, creating the catalog if there is none, in one transaction.
 * Reads rundir's manifest.json (required), summary.json, guests.json and spec.json (each
 * may be missing: an unfinished run may have only its manifest). The run's id is rundir's
 * last path component. Safe to call from several processes at once (waits up to
 * MC_CATALOG_BUSY_MS for the others); `microcosm run` calls it when a run starts and when
 * it ends.
 *
 * Returns 0; 1 when the run was indexed but a file of it could not be read (err says which,
 * the row says so in its "problems" column); or a negative errno with err set: -ENOENT
 * (no manifest.json, or root is not a directory), -EINVAL (manifest.json does not
 * parse), -EPROTO (the catalog has
 * another schema or is not a catalog: err suggests `microcosm results reindex`), -EIO
 * (SQLite failed). */
int mc_catalog_index_run(const char *root, const char *rundir, char *err, size_t errlen);

/* Rebuilds <root>/catalog.sqlite from the run directories under root alone (each
 * subdirectory holding a manifest.json is a run): builds a temporary database beside it and
 * renames it over the catalog, so a reader sees the old catalog or the new one, never half
 * of one. Runs that cannot be indexed are left out and named, one line each, on warn
 * (NULL: the log module's warnings); runs indexed with an unreadable file are named too.
 * Returns how many runs it indexed (>= 0), or a negative errno with err set (root cannot
 * be read, the temporary database cannot be written). */
int mc_catalog_reindex(const char *root, FILE *warn, char *err, size_t errlen);

/* Builds the catalog, as mc_catalog_reindex(), when root has none yet but has run
 * directories. *built (if not NULL) receives how many runs it indexed then, or -1 when the
 * catalog was already there (or there is nothing to index). Returns 0 or a negative errno
 * with err set. */
int mc_catalog_ensure(const char *root, FILE *warn, int *built, char *err, size_t errlen);

/* A filter of `results ls --filter`: KEY OP VALUE. */
enum mc_catalog_op {
	MC_CATALOG_EQ,  /* = */
	MC_CATALOG_NE,  /* != */
	MC_CATALOG_LT,  /* < */
	MC_CATALOG_LE,  /* <= */
	MC_CATALOG_GT,  /* > */
	MC_CATALOG_GE,  /* >= */
	MC_CATALOG_SUB, /* ~ : VALUE is a substring (runs columns only) */
};

struct mc_catalog_filter {
	char key[256];         /* a runs column, or the metric's name when metric is set */
	int metric;            /* 1: "metric:NAME", compares that metric's median */
	enum mc_catalog_op op; /* the comparison */
	int numeric;           /* 1: value is a number (integer or number holds it) */
	int is_integer;        /* 1: the number is an integer (integer holds it) */
	long long integer;     /* the value, when an integer */
	double number;         /* the value, when numeric */
	char value[256];       /* the value as given */
};

/* Parses EXPR ("guests>=8", "name~ring", "metric:ring/8B/lap_us_median<900") into f.
 * KEY is checked against the runs columns (see mc_catalog_columns()); numeric columns and
 * metrics need a number. Returns 0, or -EINVAL with err naming the filter and the fault. */
int mc_catalog_filter_parse(const char *expr, struct mc_catalog_filter *f, char *err,
                            size_t errlen);

/* The runs columns a filter may name, NULL-terminated (static). */
const char *const *mc_catalog_columns(void);

/* The runs under root that pass every filter (f: borrowed array of nf, may be NULL when
 * nf is 0), newest first, as a JSON array of objects with every runs column; "status" is
 * the effective one (a run indexed as running whose process is gone is "unfinished").
 * Does not build a missing catalog (see mc_catalog_ensure()). Caller owns *rows; free with
 * json_decref(). Values are bound, never pasted into SQL; keys are checked against
 * mc_catalog_columns() again. Returns 0, or a negative errno with err set: -ENOENT (no
 * catalog), -EINVAL (a filter not made by mc_catalog_filter_parse() names an unknown
 * column), -EPROTO (another schema or not a catalog: err suggests reindex), -EIO. */
int mc_catalog_query(const char *root, const struct mc_catalog_filter *f, size_t nf, json_t **rows,
                     char *err, size_t errlen);

/* ---------- one run directory, as `results show` reads it ---------- */

/* Reads the run directory itself (not the catalog): its manifest (required), effective
 * status, summary.json, guests.json, faults, trace, and checks the files: every *.json in
 * the tree (but trace/) parses, and every workloads/<w>/<rep>/ with its result. Works on a
 * run killed halfway (a "running" manifest and nothing else). Caller owns *out, one JSON
 * object (its fields are those `results show --json` prints); free with json_decref().
 * Returns 0, or a negative errno with err set: -ENOENT/-ENOTDIR (not a run: no
 * manifest.json), -EINVAL (manifest.json does not parse). */
int mc_run_describe(const char *rundir, json_t **out, char *err, size_t errlen);

/* Prints what mc_run_describe() returned as text for people on fp. */
void mc_run_describe_print(FILE *fp, const json_t *desc);

#endif
