/* tf_log.c — leveled log lines on stderr for mc-taskfarm. */
#include "tf_log.h"

#include <stdarg.h>
#include <stdio.h>

/* Process-wide sink settings: written once at start-up by main(). */
static struct {
	enum mc_tf_log_level level;
	char who[96];
} log_cfg = {MC_TF_LOG_INFO, "?"};

void mc_tf_log_setup(enum mc_tf_log_level level, const char *who)
{
	log_cfg.level = level;
	snprintf(log_cfg.who, sizeof(log_cfg.who), "%s", who ? who : "?");
}

void mc_tf_log(enum mc_tf_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	va_list ap;

	if (level > log_cfg.level)
		return;
	flockfile(stderr);
	fprintf(stderr, "mc-taskfarm %s: %s: ", log_cfg.who, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	fflush(stderr);
}
