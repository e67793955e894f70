/* admit.h — admission control: what a guest costs (measured on live guests) and whether N fit. */
#ifndef MC_ADMIT_H
#define MC_ADMIT_H

#include <stddef.h>
#include <stdint.h>

/* Host cost of one idle guest of one kind (spawn mode, accelerator, TB size, density). */
struct mc_cost {
	double mem_mib; /* PSS per guest, MiB */
	double cpu_pct; /* idle CPU per guest, % of one core */
	int samples;    /* guests measured so far (0 = built-in estimate) */
};

#define MC_ADMIT_RESERVE_MIB 1024 /* host memory never promised to guests */
#define MC_ADMIT_CPU_SHARE   0.75 /* at most this share of all cores for idle guests */
#define MC_ADMIT_MARGIN      1.1  /* per-guest memory estimate is multiplied by this */

/* Builds the key naming one kind of guest, e.g. "clone-tcg-tb16-dense". */
void mc_cost_key(char *buf, size_t cap, int clone, const char *accel, unsigned tb_mib, int density,
                 uint64_t mem_mib);

/*
 * Loads the running estimate for key from <cache_dir>/costs/<key>; when none
 * exists yet fills a conservative built-in estimate (samples = 0). Returns 0.
 */
int mc_cost_load(const char *cache_dir, const char *key, int clone, const char *accel,
                 unsigned tb_mib, uint64_t mem_mib, struct mc_cost *c);

/* Folds a new measurement of n guests into *c (weighted by guests) and saves
 * it. Returns 0 or -errno. */
int mc_cost_update(const char *cache_dir, const char *key, struct mc_cost *c, double mem_mib,
                   double cpu_pct, int n);

/*
 * Decides whether n more guests of cost c fit on a host with avail_mib of
 * MemAvailable and ncpu cores. Returns 0, or -ENOMEM / -EBUSY with a message
 * giving the numbers (and how many would fit) in msg.
 */
int mc_admit(unsigned n, const struct mc_cost *c, uint64_t avail_mib, int ncpu, char *msg,
             size_t cap);

/* PSS of process pid in KiB from /proc/PID/smaps_rollup, or -errno. */
long mc_proc_pss_kib(int pid);

/* utime + stime of process pid in clock ticks, or -errno. */
long long mc_proc_cpu_ticks(int pid);

#endif
