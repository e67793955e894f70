/* ksm.h — kernel same-page merging for the density setting: turn it on, tuned, and restore it. */
#ifndef MC_KSM_H
#define MC_KSM_H

/* The host's KSM settings before microcosm changed them. */
struct mc_ksm_saved {
	int valid;                /* 1 once mc_ksm_enable() changed something */
	char run[16];             /* /sys/kernel/mm/ksm/run */
	char pages_to_scan[32];   /* pages_to_scan */
	char sleep_millisecs[32]; /* sleep_millisecs */
	char advisor_mode[32];    /* advisor_mode ("" if the kernel has no advisor) */
	char advisor_max_cpu[32]; /* advisor_max_cpu */
	char advisor_target[32];  /* advisor_target_scan_time */
};

/*
 * Starts ksmd for the emulators that asked for merging (PR_SET_MEMORY_MERGE).
 * Scan rate: the kernel's scan-time advisor capped at max_cpu_pct of a core
 * where it exists, else a fixed 1,000 pages per 20 ms. Saves the previous
 * settings in *saved. Returns 0 or -errno (no KSM on this host).
 */
int mc_ksm_enable(struct mc_ksm_saved *saved, int max_cpu_pct);

/* Puts the saved settings back. Safe when nothing was saved. */
void mc_ksm_restore(struct mc_ksm_saved *saved);

#endif
