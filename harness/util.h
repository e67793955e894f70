/* util.h — small helpers shared across the harness: clocks, files, strings. */
#ifndef MC_UTIL_H
#define MC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define MC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* snprintf into err[0..errlen) (nothing when err is NULL or errlen 0): the error message of
 * functions that take (char *err, size_t errlen). */
__attribute__((format(printf, 3, 4))) void mc_errf(char *err, size_t errlen, const char *fmt, ...);

/* Replaces the process with `python dir/script args...` (args NULL-terminated, at most 16):
 * how the CLI runs its Python parts (trace summaries, reports). dir comes from the
 * environment variable env_var when set, else default_dir. Returns 1 only when that
 * cannot be done, after printing why, prefixed with who ("microcosm report"). */
int mc_exec_python(const char *who, const char *python, const char *env_var,
                   const char *default_dir, const char *script, char *const args[]);

/* Whether path is a directory (following symlinks). */
int mc_is_dir(const char *path);

/* For hand-written option loops: whether argv[*i] is option name ("--threshold"), as
 * "--name VALUE" (advancing *i over the value) or "--name=VALUE"; *val is the value, or
 * NULL when argv ends before it. */
int mc_opt_value(int argc, char **argv, int *i, const char *name, const char **val);

/* Monotonic time in milliseconds (CLOCK_MONOTONIC). */
int64_t mc_now_ms(void);

/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t mc_wall_ms(void);

/* Writes len bytes of data to path atomically (temp file + fsync + rename).
 * Returns 0 or -errno. */
int mc_write_file_atomic(const char *path, const void *data, size_t len, int mode);

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer.
 * Caller owns *out; free with free(). Returns 0 or -errno (-EFBIG if
 * larger than max). */
int mc_read_file(const char *path, size_t max, char **out, size_t *len);

/* mkdir -p with mode. Returns 0 or -errno. */
int mc_mkdir_p(const char *path, int mode);

/* rm -rf of path (does not follow symlinks, stays on one tree). Returns 0
 * or -errno of the first failure; a missing path is not an error. */
int mc_rm_rf(const char *path);

/* Parses a size like "128M", "2G", "512" (MiB when no suffix) into MiB.
 * Returns 0 or -EINVAL. */
int mc_parse_mib(const char *s, uint64_t *mib);

/* Parses a non-negative decimal integer in [min, max]. Returns 0 or -EINVAL. */
int mc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses a duration "30", "30s", "500ms", "2m" into milliseconds.
 * Returns 0 or -EINVAL. */
int mc_parse_duration_ms(const char *s, uint64_t *ms);

/* Host facts. */
uint64_t mc_host_mem_available_mib(void); /* MemAvailable, MiB; 0 if unknown */
int mc_host_ncpus(void);
uint64_t mc_host_tsc_khz(void); /* 0 if unknown */

/* Writes value to an existing file (sysctl, sysfs) in one write(). Returns 0
 * or -errno. */
int mc_write_string(const char *path, const char *value);

/* Whether the file starts with the ELF magic. */
int mc_file_is_elf(const char *path);

/* Whether pid is alive (kill(pid, 0) succeeds or fails with EPERM). */
int mc_pid_alive(int pid);
/* An event loop's descriptors: blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP into a signalfd
 * (*sigfd), ignores SIGPIPE, and makes an epoll set (*epfd). Returns 0, or -1 (errno). */
int mc_loop_fds(int *sigfd, int *epfd);

#endif
