/* controller.h — the cluster controller: owns the guests of one cluster, serves the CLI. */
#ifndef MC_CONTROLLER_H
#define MC_CONTROLLER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Everything the controller needs, resolved by `microcosm up` before it starts. */
struct mc_ctl_config {
	char cluster[64];          /* cluster name */
	char dir[PATH_MAX];        /* this cluster's state directory (exists, empty) */
	char netns[128];           /* network namespace name */
	unsigned n;                /* guests */
	uint64_t mem_mib;          /* RAM per guest, MiB */
	unsigned vcpus;            /* vCPUs per guest */
	char accel[8];             /* "kvm" or "tcg" (resolved) */
	char accel_why[256];       /* how the accelerator was chosen */
	char qemu[PATH_MAX];       /* emulator binary */
	char kernel[PATH_MAX];     /* kernel image guests boot */
	char kernel_kind[32];      /* "project" or "debian-cloud" */
	char machine[64];          /* QEMU -M value for that kernel */
	char initrd[PATH_MAX];     /* initramfs */
	char base_image[PATH_MAX]; /* read-only qcow2 base of every overlay */
	char cmdline[1024];        /* guest kernel command line */
	unsigned parallel;         /* guests booting at once */
	uint64_t boot_timeout_ms;  /* QEMU start -> HELLO deadline */
	uint64_t hb_ms;            /* heartbeat period the agents use */
	uint64_t hb_timeout_ms;    /* silence that fails a guest */
	unsigned tb_mib;           /* TCG translation buffer per guest, MiB */
	int clone;                 /* 1: guests are clones of the template below */
	char tpl_key[17];          /* template key */
	char tpl_memory[PATH_MAX]; /* template RAM file (mapped private by each clone) */
	char tpl_state[PATH_MAX];  /* template device state */
	char tpl_stub[PATH_MAX];   /* stand-in kernel for clones */
	int density;               /* emulators without ASLR, with KSM */
	char share[PATH_MAX];      /* host directory every guest sees at /share ("" = none) */
	char events[PATH_MAX];     /* guest state changes (JSON lines); "" = dir/events.jsonl */
	char cache_dir[PATH_MAX];  /* where measured guest costs are kept */
	char cost_key[96];         /* which kind of guest this cluster measures */
	double cost_mib;           /* per-guest memory admission assumed, MiB */
	/* One host of many (docs/hosts.md): set by the host daemon, zero when alone. */
	int host_index;         /* this host's number, 0.. (with uplink only) */
	unsigned first;         /* the global index of this host's first guest (names, addresses) */
	unsigned cluster_n;     /* guests of the whole cluster (0: n, one host) */
	void *uplink;           /* ZeroMQ DEALER to the cluster controller (the daemon owns it) */
	uint64_t up_timeout_ms; /* silence from the cluster controller that ends this host */
	/* Called inside the fleet namespace right after it is made (the overlay); < 0 fails
	 * the setup with why. */
	int (*in_ns)(void *arg, char *why, size_t whylen);
	void *in_ns_arg;
};

/*
 * Runs the controller in the calling process until the cluster is down
 * (a `down` request, SIGTERM, SIGINT or SIGHUP). Moves the process into a
 * new network namespace first. When setup is done (sockets bound) it writes
 * "ok\n" to ready_fd, or "error: <reason>\n" if setup failed, and closes it
 * (ready_fd may be -1). Removes everything it created before returning,
 * including cfg->dir. Returns 0, or 1 when setup failed.
 */
int mc_controller_run(const struct mc_ctl_config *cfg, int ready_fd);

/* Client routing ids of requests the cluster controller forwards over the uplink start
 * with this byte (ZeroMQ's own ids start with 0). */
#define MC_CTL_UPLINK_TAG 0x01

/* Paths inside a cluster's state directory. */
#define MC_CTL_SOCK "ctl.sock"
#define MC_CTL_PID  "controller.pid"
#define MC_CTL_LOG  "controller.log"

#endif
