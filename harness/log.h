/* log.h — the one log module: leveled, printf-checked messages to stderr or a file. */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdio.h>

enum mc_log_level { MC_LOG_ERROR = 0, MC_LOG_WARN, MC_LOG_INFO, MC_LOG_DEBUG };

/* Sets the threshold (messages above it are dropped) and the sink. fp is
 * borrowed; NULL means stderr. Call before any thread starts logging. */
void mc_log_setup(enum mc_log_level level, FILE *fp);

/* Whether to prefix each line with a wall-clock timestamp (daemons do). */
void mc_log_timestamps(int on);

/* Writes one line "microcosm: <level>: <message>". Messages read
 * subject -> action -> cause, lowercase: "vm g0003: qmp connect: refused". */
void mc_log(enum mc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mc_err(...)   mc_log(MC_LOG_ERROR, __VA_ARGS__)
#define mc_warn(...)  mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_info(...)  mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)

#endif
