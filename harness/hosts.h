/* hosts.h — one cluster across many hosts (docs/hosts.md): the cluster controller
 * (coord.c) starts one host daemon per host through the resource manager's launcher (Slurm's
 * srun, or MPICH's Hydra), places the guests, joins every host's fleet namespace into one
 * VXLAN overlay and serves the CLI as one cluster; each host daemon (cmd_daemon.c) is a
 * controller for its own guests with an uplink to the cluster controller. */
#ifndef MC_HOSTS_H
#define MC_HOSTS_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>

#include "admit.h"
#include "controller.h"

#define MC_HOSTS_PORT   7071 /* the cluster controller's port for host daemons */
#define MC_HOSTS_MAX    64
#define MC_HOSTS_LOG    "hosts.log" /* the launcher's and the daemons' output */
#define MC_HOSTS_SUBDIR "hosts"     /* a daemon's state: <state>/<cluster>/hosts/<host>/ */

/* How `microcosm up` reaches its hosts. */
struct mc_hosts_opts {
	char hosts[PATH_MAX];         /* "slurm", or a Hydra host file ("" = one host) */
	char launcher_exec[PATH_MAX]; /* Hydra's -launcher-exec (rsh-like), "" = its default */
	char listen[64];              /* the address daemons reach this host at ("" = found) */
	uint64_t start_timeout_ms;    /* every daemon said hello and set up */
	struct mc_cost cost;          /* one guest's cost, for each host's admission */
};

/* One host of the cluster as placed. */
struct mc_host {
	char name[64];
	uint32_t underlay; /* the address the other hosts reach it at (host order) */
	unsigned first, n; /* its guests: global indices first .. first + n - 1 */
};

/* The overlay as one fleet namespace sees it (the argument of the controller's in_ns hook). */
struct mc_overlay {
	int host_ns_fd;        /* the host's own namespace, where the VXLAN socket lives */
	uint32_t local;        /* this host's underlay address */
	uint32_t self;         /* this fleet namespace's overlay address */
	int self_host;         /* its index in hosts (-1: the cluster controller) */
	uint32_t vni;          /* the cluster's VXLAN network identifier */
	uint32_t ctl_underlay; /* the cluster controller's underlay address */
	unsigned nhosts;
	struct mc_host hosts[MC_HOSTS_MAX];
};

/* A VXLAN network identifier (1 .. 2^24-1) from a key: the cluster's name and its run. */
uint32_t mc_hosts_vni(const char *cluster);
/* The controller's in_ns hook: creates the VXLAN device from the host's namespace, gives it
 * the overlay address, floods to every other host and routes every guest on another host
 * through that host's overlay address. arg: struct mc_overlay. */
int mc_overlay_setup(void *arg, char *why, size_t whylen);
/* Host k's name and guests as JSON, and back (the start message). Returns 0 or -1. */
json_t *mc_hosts_json(const struct mc_host *h, unsigned n);
int mc_hosts_from_json(json_t *a, struct mc_host *h, unsigned *n);

/*
 * Places n guests on hosts that can admit cap[k] each: as evenly as the capacities allow
 * (no host above its own), in host order so names stay contiguous per host. Fills first/n
 * of every host. Returns 0, or -1 when the capacities add up to fewer than n.
 */
int mc_hosts_place(struct mc_host *h, const unsigned *cap, unsigned nhosts, unsigned n);

/* The topology key "topology.rack_starts=0,2,4" naming each host's first guest, from an
 * `ls` guests array in index order (one rack when the guests name no host). Returns the
 * number of racks, or -1 when it does not fit in buf. */
int mc_hosts_rack_starts(json_t *guests, char *buf, size_t cap);

/* The cluster controller: runs in the process `microcosm up` forked, instead of
 * mc_controller_run (same contract: ready_fd gets "ok" or "error: ...", everything it made is
 * gone when it returns). */
int mc_coord_run(const struct mc_ctl_config *cfg, const struct mc_hosts_opts *ho, int ready_fd);

#endif
