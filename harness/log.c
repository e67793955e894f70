/* log.c — leveled logging to stderr or a file. */
#include "log.h"

#include <stdarg.h>
#include <time.h>

/* Process-wide sink settings: written once at start-up by main(). */
static struct {
	enum mc_log_level level;
	FILE *fp;
	int stamps;
} log_cfg = {MC_LOG_INFO, NULL, 0};

void mc_log_setup(enum mc_log_level level, FILE *fp)
{
	log_cfg.level = level;
	log_cfg.fp = fp;
}

void mc_log_timestamps(int on)
{
	log_cfg.stamps = on;
}

void mc_log(enum mc_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	FILE *fp = log_cfg.fp ? log_cfg.fp : stderr;
	char stamp[96] = "";
	va_list ap;

	if (level > log_cfg.level)
		return;
	if (log_cfg.stamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ ",
		         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		         tm.tm_sec, ts.tv_nsec / 1000000);
	}
	flockfile(fp);
	fprintf(fp, "%smicrocosm: %s: ", stamp, names[level]);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fputc('\n', fp);
	funlockfile(fp);
	fflush(fp);
}
