/* ksm.c — turns KSM on for the density setting and puts the host's settings back. */
#include "ksm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

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

static int wr(const char *name, const char *value)
{
	int fd = open(name, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
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
	s->valid = 1;
	wr(KSM "sleep_millisecs", "20");
	if (s->advisor_mode[0]) {
		snprintf(v, sizeof(v), "%d", max_cpu_pct);
		wr(KSM "advisor_max_cpu", v);
		wr(KSM "advisor_mode", "scan-time");
	} else {
		wr(KSM "pages_to_scan", "1000");
	}
	if ((err = wr(KSM "run", "1")) < 0) {
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
	wr(KSM "run", s->run);
	if (s->advisor_mode[0]) {
		wr(KSM "advisor_mode", s->advisor_mode);
		wr(KSM "advisor_max_cpu", s->advisor_max_cpu);
	}
	wr(KSM "pages_to_scan", s->pages_to_scan);
	wr(KSM "sleep_millisecs", s->sleep_millisecs);
	s->valid = 0;
}
