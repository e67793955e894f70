/* ksm.c — turns KSM on for the density setting and puts the host's settings back. */
#include "ksm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define KSM "/sys/kernel/mm/ksm/"

static int rd(const char *name, char *buf, size_t cap)
{
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	/* advisor_mode reads "none [scan-time]": keep the selected word. */
	{
		char *l = strchr(buf, '['), *r = l ? strchr(l, ']') : NULL;

		if (l && r) {
			memmove(buf, l + 1, (size_t)(r - l - 1));
			buf[r - l - 1] = '\0';
		}
	}
	return 0;
}

int mc_ksm_enable(struct mc_ksm_saved *s, int max_cpu_pct)
{
	char v[32];
	int err;

	memset(s, 0, sizeof(*s));
	if ((err = rd(KSM "run", s->run, sizeof(s->run))) < 0)
		return err;
	rd(KSM "pages_to_scan", s->pages_to_scan, sizeof(s->pages_to_scan));
	rd(KSM "sleep_millisecs", s->sleep_millisecs, sizeof(s->sleep_millisecs));
	rd(KSM "advisor_mode", s->advisor_mode, sizeof(s->advisor_mode));
	rd(KSM "advisor_max_cpu", s->advisor_max_cpu, sizeof(s->advisor_max_cpu));
	rd(KSM "advisor_target_scan_time", s->advisor_target, sizeof(s->advisor_target));
	s->valid = 1;
	mc_write_string(KSM "sleep_millisecs", "20");
	if (s->advisor_mode[0]) {
		snprintf(v, sizeof(v), "%d", max_cpu_pct);
		mc_write_string(KSM "advisor_max_cpu", v);
		/* The kernel's default (200 s per full scan) is slow for guests that
		 * come and go within minutes. */
		mc_write_string(KSM "advisor_target_scan_time", "20");
		mc_write_string(KSM "advisor_mode", "scan-time");
	} else {
		mc_write_string(KSM "pages_to_scan", "1000");
	}
	if ((err = mc_write_string(KSM "run", "1")) < 0) {
		mc_ksm_restore(s);
		return err;
	}
	mc_info("ksm: on (%s, sleep 20 ms)",
	        s->advisor_mode[0] ? "scan-time advisor" : "1000 pages per scan");
	return 0;
}

void mc_ksm_restore(struct mc_ksm_saved *s)
{
	if (!s->valid)
		return;
	/* run=1 -> 0 keeps merged pages merged; they split as guests write or exit. */
	mc_write_string(KSM "run", s->run);
	if (s->advisor_mode[0]) {
		mc_write_string(KSM "advisor_mode", s->advisor_mode);
		mc_write_string(KSM "advisor_max_cpu", s->advisor_max_cpu);
		if (s->advisor_target[0])
			mc_write_string(KSM "advisor_target_scan_time", s->advisor_target);
	}
	mc_write_string(KSM "pages_to_scan", s->pages_to_scan);
	mc_write_string(KSM "sleep_millisecs", s->sleep_millisecs);
	s->valid = 0;
}
