/* wl_common.h — what the MPI workloads share: option values, rank agreement, JSON lines. */
#ifndef MC_WL_COMMON_H
#define MC_WL_COMMON_H

#include <mpi.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Every workload follows the same shape:
 *
 *   parse argv (no MPI; --help prints usage and exits 0 before MPI_Init)
 *   wl_mpi_init()            MPI up, rank/size/host known, watchdog armed
 *   wl_agree_usage()         a bad option -> one message, every rank exits 2
 *   ... measure; rank 0 prints one JSON object per line on stdout ...
 *   wl_all_ok() after each step that can fail on one rank only
 *   return wl_finish(code)   MPI_Finalize, then main returns code
 *
 * When libmc-mpi-trace.so is preloaded (tracing/mc_mpi_trace.h), wl_phase()
 * and wl_trace_phase() also emit LTTng events microcosm_workload:phase and
 * wl_trace_iteration() emits microcosm_workload:iteration; without it they
 * record nothing. The workloads do not link lttng-ust.
 *
 * Messages go to stderr as "<prog>: <what>" (usage) or
 * "<prog>: rank <r> (<host>): <what>" (a failure on one rank).
 */

#define WL_EXIT_OK    0    /* success */
#define WL_EXIT_FAIL  1    /* MPI, I/O or verification failure */
#define WL_EXIT_USAGE 2    /* bad option or option value */
#define WL_HELP       (-1) /* a parser's return: --help was given */

#define WL_MAX_SIZES   32  /* entries in a --sizes list */
#define WL_ERR_LEN     256 /* bytes, one usage error message */
#define WL_MAX_SECONDS 1e9 /* s, longest duration option */

/* Options every workload accepts, in its usage text and its getopt table. */
#define WL_COMMON_USAGE                                                                            \
	"  --timeout DUR   give up (exit 1, naming the rank and phase) when the run\n"             \
	"                  takes longer than DUR, e.g. 90s, 5m; 0 = never (default 0)\n"           \
	"  -h, --help      print this help and exit\n"
#define WL_OPT_TIMEOUT 0x100 /* getopt_long value of --timeout */

/* One workload process. Lives in main()'s frame for the whole run. */
struct wl_ctx {
	const char *prog;                  /* program name in messages, "mc-ring" */
	const char *workload;              /* "workload" field of every JSON line, "ring" */
	int rank;                          /* MPI_COMM_WORLD rank; -1 before wl_mpi_init() */
	int size;                          /* MPI_COMM_WORLD size; 1 before wl_mpi_init() */
	char host[MPI_MAX_PROCESSOR_NAME]; /* MPI_Get_processor_name() */
	char err[WL_ERR_LEN];              /* usage error found while parsing; "" if none */
	double timeout;                    /* s, --timeout; 0 = no watchdog */
	_Atomic(const char *) phase;       /* what this rank is doing, for the watchdog */
	atomic_int rank_seen;              /* rank as the watchdog thread reads it; -1 early */
	/* mc_trace_phase() and mc_trace_iteration() of a preloaded libmc-mpi-trace.so,
	 * found by wl_ctx_init(); NULL without it. */
	void (*trace_phase)(const char *workload, const char *phase);
	void (*trace_iteration)(const char *workload, uint64_t n, double value);
};

/* Fills ctx for a program before MPI is up. prog and workload are borrowed
 * (string literals). Looks up the tracing functions once (dlsym). Does no I/O. */
void wl_ctx_init(struct wl_ctx *ctx, const char *prog, const char *workload);

/* Records a usage error in ctx->err (the first one wins) and returns
 * WL_EXIT_USAGE, so a parser can `return wl_usage_error(...)`. */
int wl_usage_error(struct wl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the usage error for a getopt_long() '?' or ':' return: unknown
 * option or missing value. Returns WL_EXIT_USAGE. */
int wl_getopt_error(struct wl_ctx *ctx, int c, char *const argv[]);

/* Value parsers. Each returns 0, or WL_EXIT_USAGE with ctx->err set to
 * "<opt>: '<text>' is not ..." naming the offending text.
 *
 * Sizes are bytes with an optional binary suffix K, M or G (1K = 1024);
 * a size list is comma-separated: "8,1K,64K,1M". Durations are a decimal
 * number with an optional unit us, ms, s (default), m or h. */
int wl_parse_size(struct wl_ctx *ctx, const char *opt, const char *s, size_t max, size_t *out);
int wl_parse_sizes(struct wl_ctx *ctx, const char *opt, const char *s, size_t max,
                   size_t out[WL_MAX_SIZES], int *n);
int wl_parse_int(struct wl_ctx *ctx, const char *opt, const char *s, long min, long max, long *out);
int wl_parse_duration(struct wl_ctx *ctx, const char *opt, const char *s, double *out);

/* MPI_Init_thread (funneled: only the main thread calls MPI), then rank, size
 * and host; installs an error handler on MPI_COMM_WORLD that prints
 * "<prog>: rank <r> (<host>): MPI error: ..." and aborts the job with exit 1;
 * starts the --timeout watchdog thread when ctx->timeout > 0. Returns 0 or
 * WL_EXIT_FAIL (message printed). */
int wl_mpi_init(struct wl_ctx *ctx, int *argc, char ***argv);

/* Collective. Whether every rank parsed its options cleanly (ctx->err == "").
 * If not, the lowest rank with an error prints "<prog>: <err>" and every rank
 * gets false: the caller then returns wl_finish(ctx, WL_EXIT_USAGE). */
bool wl_agree_usage(struct wl_ctx *ctx);

/* Collective. True when ok is true on every rank. Ranks that failed print
 * their own message (wl_fail) before calling. Also a synchronisation point. */
bool wl_all_ok(bool ok);

/* Prints "<prog>: rank <r> (<host>): <message>" on stderr. */
void wl_fail(const struct wl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Names what the rank does next ("warmup", "run", ...); a static string. The
 * watchdog message quotes it, and a trace records it (wl_trace_phase()). */
void wl_phase(struct wl_ctx *ctx, const char *phase);

/* Tracing only: records that the rank enters phase (borrowed for the call),
 * e.g. "size 1024" before the steps of one message size. A no-op unless
 * libmc-mpi-trace.so is preloaded. */
void wl_trace_phase(const struct wl_ctx *ctx, const char *phase);

/* Tracing only: records measurement n and its value. mc-ring and mc-allreduce
 * record one per measured size on rank 0: n = bytes, value = the median time
 * in microseconds that their JSON line reports. A no-op unless
 * libmc-mpi-trace.so is preloaded. */
void wl_trace_iteration(const struct wl_ctx *ctx, uint64_t n, double value);

/* MPI_Finalize, then returns code for main() to return. */
int wl_finish(struct wl_ctx *ctx, int code);

/* JSON lines (rank 0 only). A line is wl_json_begin(), any number of
 * fields, wl_json_end(); begin writes the common fields "workload" and
 * "ranks", end writes the newline and flushes. Numbers that are not finite
 * are written as null. Strings are escaped. */
void wl_json_begin(FILE *f, const struct wl_ctx *ctx);
void wl_json_int(FILE *f, const char *key, long long v);
void wl_json_num(FILE *f, const char *key, double v);
void wl_json_str(FILE *f, const char *key, const char *s);
void wl_json_ints(FILE *f, const char *key, const int *v, int n);
void wl_json_end(FILE *f);

/* Order statistics of n > 0 samples; sorts v in place. */
struct wl_stats {
	double min;
	double median; /* mean of the two middle samples when n is even */
	double max;
};
void wl_stats(double *v, size_t n, struct wl_stats *out);

#endif
