/* admit.c — per-guest cost estimates (measured, persisted) and the admission decision. */
#include "admit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void mc_cost_key(char *buf, size_t cap, int clone, const char *accel, unsigned tb_mib, int density,
                 uint64_t mem_mib)
{
	snprintf(buf, cap, "%s-%s-tb%u-m%llu%s", clone ? "clone" : "boot", accel, tb_mib,
	         (unsigned long long)mem_mib, density ? "-dense" : "");
}

static void builtin(int clone, const char *accel, unsigned tb_mib, uint64_t mem_mib,
                    struct mc_cost *c)
{
	int tcg = strcmp(accel, "tcg") == 0;
	double touched = mem_mib < 40 ? (double)mem_mib : 40.0; /* a booted guest touches ≈35 MiB */

	/* Before any measurement: DESIGN.md's figures, rounded up. */
	if (clone) {
		c->mem_mib = 8.0 + (tcg ? tb_mib : 0) + 8.0;
		c->cpu_pct = 0.25;
	} else {
		c->mem_mib = touched + 24.0 + (tcg ? tb_mib : 0);
		c->cpu_pct = 0.3;
	}
	c->samples = 0;
}

int mc_cost_load(const char *cache_dir, const char *key, int clone, const char *accel,
                 unsigned tb_mib, uint64_t mem_mib, struct mc_cost *c)
{
	char path[4096], *text = NULL;
	double m, p;
	int s;

	builtin(clone, accel, tb_mib, mem_mib, c);
	snprintf(path, sizeof(path), "%s/costs/%s", cache_dir, key);
	if (mc_read_file(path, 4096, &text, NULL) < 0)
		return 0;
	if (sscanf(text, "mem_mib=%lf cpu_pct=%lf samples=%d", &m, &p, &s) == 3 && m > 0 &&
	    p >= 0 && s > 0) {
		c->mem_mib = m;
		c->cpu_pct = p;
		c->samples = s;
	}
	free(text);
	return 0;
}

int mc_cost_update(const char *cache_dir, const char *key, struct mc_cost *c, double mem_mib,
                   double cpu_pct, int n)
{
	char dir[4096], path[4200], buf[128];
	int len, err;

	if (n <= 0)
		return -EINVAL;
	if (c->samples == 0) {
		c->mem_mib = mem_mib;
		c->cpu_pct = cpu_pct;
	} else {
		/* Recent runs count as much as all the history: the host changes. */
		c->mem_mib = (c->mem_mib + mem_mib) / 2.0;
		c->cpu_pct = (c->cpu_pct + cpu_pct) / 2.0;
	}
	c->samples += n;
	snprintf(dir, sizeof(dir), "%s/costs", cache_dir);
	if ((err = mc_mkdir_p(dir, 0755)) < 0)
		return err;
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	len = snprintf(buf, sizeof(buf), "mem_mib=%.2f cpu_pct=%.4f samples=%d\n", c->mem_mib,
	               c->cpu_pct, c->samples);
	return mc_write_file_atomic(path, buf, (size_t)len, 0644);
}

int mc_admit(unsigned n, const struct mc_cost *c, uint64_t avail_mib, int ncpu, char *msg,
             size_t cap)
{
	/* 10 % margin: guests keep growing a little after they are measured idle. */
	double per = c->mem_mib * MC_ADMIT_MARGIN;
	double need = n * per + MC_ADMIT_RESERVE_MIB;
	double cpu = n * c->cpu_pct, cpu_cap = MC_ADMIT_CPU_SHARE * 100.0 * ncpu;
	const char *src = c->samples ? "measured" : "estimated";

	if (avail_mib && need > (double)avail_mib) {
		double fit = floor(((double)avail_mib - MC_ADMIT_RESERVE_MIB) / per);

		snprintf(msg, cap,
		         "not enough memory for %u guests: need ≈%.0f MiB (%.1f MiB per guest, %s, "
		         "+ %d MiB kept for the host), the host has %llu MiB available; at most "
		         "%.0f guests fit",
		         n, need, per, src, MC_ADMIT_RESERVE_MIB, (unsigned long long)avail_mib,
		         fit > 0 ? fit : 0);
		return -ENOMEM;
	}
	if (cpu > cpu_cap) {
		snprintf(
		        msg, cap,
		        "not enough CPU for %u idle guests: they would use ≈%.0f%% of a core "
		        "(%.3f%% each, %s), the limit is %.0f%% (%.0f%% of %d cores); at most %.0f "
		        "guests fit",
		        n, cpu, c->cpu_pct, src, cpu_cap, MC_ADMIT_CPU_SHARE * 100, ncpu,
		        floor(cpu_cap / c->cpu_pct));
		return -EBUSY;
	}
	snprintf(msg, cap,
	         "%u guests: ≈%.0f MiB (%.1f each, %s) of %llu available, idle CPU ≈%.0f%% of a "
	         "core",
	         n, need - MC_ADMIT_RESERVE_MIB, c->mem_mib, src, (unsigned long long)avail_mib,
	         cpu);
	return 0;
}

long mc_proc_pss_kib(int pid)
{
	char path[64], line[256];
	FILE *fp;
	long kib = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "Pss: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	return kib;
}

long long mc_proc_cpu_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EINVAL;
	return (long long)(ut + st);
}
