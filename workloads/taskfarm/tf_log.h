/* tf_log.h — mc-taskfarm's log: leveled, printf-checked lines on stderr (stdout carries results).
 */
#ifndef MC_TF_LOG_H
#define MC_TF_LOG_H

enum mc_tf_log_level { MC_TF_LOG_ERROR = 0, MC_TF_LOG_WARN, MC_TF_LOG_INFO, MC_TF_LOG_DEBUG };

/* Sets the threshold (messages above it are dropped) and the subject every line
 * starts with, e.g. "coordinator" or "worker g0003". who is copied. Call once from
 * main() before logging; the settings are process-wide. */
void mc_tf_log_setup(enum mc_tf_log_level level, const char *who);

/* Writes one line "mc-taskfarm <who>: <level>: <message>" to stderr. Messages read
 * subject -> action -> cause, lowercase: "worker w1: lost: silent for 2100 ms". */
void mc_tf_log(enum mc_tf_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define mc_tf_err(...)   mc_tf_log(MC_TF_LOG_ERROR, __VA_ARGS__)
#define mc_tf_warn(...)  mc_tf_log(MC_TF_LOG_WARN, __VA_ARGS__)
#define mc_tf_info(...)  mc_tf_log(MC_TF_LOG_INFO, __VA_ARGS__)
#define mc_tf_debug(...) mc_tf_log(MC_TF_LOG_DEBUG, __VA_ARGS__)

#endif
