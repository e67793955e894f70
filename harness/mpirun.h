/* mpirun.h — MPI jobs across a cluster's guests with MPICH's Hydra (mpiexec on the host, the
 * guests' agents as its remote shell). */
#ifndef MC_MPIRUN_H
#define MC_MPIRUN_H

#include <stdint.h>

#include "cli.h"

struct mc_mpirun_spec {
	const struct mc_common_opts *c; /* cluster; borrowed */
	unsigned ranks;                 /* 0 = every selected guest x ppn */
	unsigned ppn;                   /* ranks per guest, >= 1 */
	const char *hosts;              /* target set; NULL or "" = all ready guests */
	uint64_t timeout_ms;            /* 0 = none */
	const char *wdir;               /* ranks' working directory; NULL = /data */
	int envc;                       /* "K=V" for every rank */
	char *const *env;
	int xargc; /* extra mpiexec arguments, before the program */
	char *const *xargv;
	int argc; /* program and arguments (argc >= 1) */
	char *const *argv;
	int out_fd;              /* ranks' stdout goes here; -1 = this process's stdout */
	int err_fd;              /* mpiexec's and ranks' stderr; -1 = this process's stderr */
	void (*tick)(void *arg); /* called every few ms while the job runs (fault plans); NULL */
	void *tick_arg;
};

struct mc_mpirun_result {
	int status;         /* mpiexec exit status; 128+N if killed by signal N; -1 not run */
	int timed_out;      /* killed for spec.timeout_ms */
	int interrupted;    /* the signal (SIGINT, SIGTERM, SIGHUP) that stopped it, or 0 */
	unsigned guests;    /* guests the job ran on */
	unsigned ranks;     /* ranks launched */
	double seconds;     /* mpiexec start to exit */
	char failure[1024]; /* when status != 0: what failed, naming rank(s) and guest */
};

/*
 * Runs one MPI job and waits for it. Returns 0 when the job ran (its outcome
 * is in res->status), or -1 when it could not start (cluster not up, too few
 * ready guests, mpiexec missing), with the reason in res->failure. SIGINT,
 * SIGTERM and SIGHUP received while it runs are passed to mpiexec.
 */
int mc_mpirun(const struct mc_mpirun_spec *s, struct mc_mpirun_result *res);

#endif
