/* ctl_internal.h — the controller's own state, shared by its source files (controller.c,
 * ctl_fault.c); nothing outside the controller includes it. */
#ifndef MC_CTL_INTERNAL_H
#define MC_CTL_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "controller.h"
#include "ksm.h"
#include "vm.h"
#include "vmm.h"

#define MAX_CLIENT_ID 256

/* epoll tags: type in the high 32 bits, guest index in the low. */
#define EP_SIGNAL         1ull
#define EP_ZGUEST         2ull
#define EP_ZCLI           3ull
#define EP_QMP            4ull /* a guest's QEMU */
#define EP_MIG            5ull /* the QEMU a guest is migrating to */
#define EP_ZUP            6ull /* the uplink to the cluster controller (a host daemon) */
#define EP_TAG(type, idx) (((type) << 32) | (uint64_t)(idx))

struct job;

/* Whether a slot of the controller's table holds a guest this host runs. A host daemon's
 * controller has a slot for each of its own guests (its block, first .. first + n - 1, at
 * slot gindex - first) and takes further slots for guests that migrate in from other hosts
 * (ctl_xmig.c); a guest that migrated away keeps its slot, unused. */
enum ctl_slot {
	CTL_SLOT_HERE = 0, /* runs here: requests, heartbeats, ls */
	CTL_SLOT_INCOMING, /* arriving from another host: its target QEMU only, nothing else */
	CTL_SLOT_AWAY,     /* runs elsewhere now (or a free slot): skipped everywhere */
};

/* One command running on one guest. */
struct run {
	struct run *next;
	uint32_t exec_id; /* protocol id, unique per controller */
	struct job *job;  /* the request it belongs to */
};

/* One CLI request with per-guest parts still outstanding. */
struct job {
	struct job *next;
	uint32_t id;
	char op[16];                         /* "exec", "pause", "resume" */
	unsigned char client[MAX_CLIENT_ID]; /* ZeroMQ routing id of the CLI */
	size_t client_len;
	unsigned pending; /* guests not finished yet */
	char fault[64];   /* fault requests: the plan's name for it ("" = none), for the trace */
	char kind[16];    /* fault requests: its kind */
};

struct guest {
	char name[32];
	unsigned index;  /* in this controller's table (taps, epoll tags) */
	unsigned gindex; /* in the cluster: name, address, targets (index + cfg->first) */
	uint32_t addr;
	char ip[16];
	char mac[18];
	char dir[PATH_MAX];
	enum mc_vm_state state;
	void *be; /* back-end state */
	int tap_fd;
	pid_t pid;
	int64_t t_start_ms;  /* QEMU spawned (monotonic) */
	int64_t t_ready_ms;  /* HELLO received */
	int64_t last_hb_ms;  /* last HELLO or HEARTBEAT */
	int64_t deadline_ms; /* stop escalation deadline */
	int quit_sent;       /* QMP quit was sent while stopping */
	uint64_t hb_seq;
	uint32_t boot_id;
	char kernel[64];
	char reason[160];       /* why it failed */
	int64_t failed_wall_ms; /* wall clock (ms since the epoch) when it was marked failed */
	int rebooting;          /* its QEMU was killed for a reboot: start it again when reaped */
	int disk_fault;         /* a disk-error's blkdebug node is in its block graph */
	unsigned char rid[64];  /* agent's ZeroMQ routing id, "<name>.<boot id>" (last seen) */
	size_t rid_len;
	unsigned boots;   /* times it was started (reboots + 1) */
	struct run *runs; /* commands in flight */
	unsigned nruns;
	struct job *op_job; /* pending pause/resume request */
	struct ctl *ctl;
	int epoll_added;
	char ifname[16];           /* its tap: "mct<index>", or "mcm<index>" after an odd number of
	                            * migrations */
	int from_template;         /* its QEMU was cloned from the template (not cold-booted) */
	unsigned migrations;       /* live migrations completed */
	uint64_t health_errors;    /* the health signal: raised by degrade faults */
	struct ctl_migration *mig; /* live migration in progress (ctl_migrate.c) */
	struct ctl_ckpt *ckpt;     /* checkpoint in progress (ctl_checkpoint.c) */
	struct ctl_restore *restore; /* restore in progress (ctl_checkpoint.c) */
	struct job *revive_job;      /* a revive request waiting for it to be ready */
	enum ctl_slot slot;          /* here, arriving or away (many hosts) */
	struct ctl_xmig *xmig;       /* migration to or from another host (ctl_xmig.c) */
};

struct ctl {
	const struct mc_ctl_config *cfg;
	struct guest *g;
	unsigned n;   /* slots in use: this host's own guests (cfg->n), then arrived ones */
	unsigned cap; /* slots allocated (the whole cluster's guests on a host daemon) */
	void *zctx, *zguest, *zcli;
	int epfd, sigfd;
	int events_fd; /* guest state changes, one JSON line each (-1: none) */
	unsigned booting, next_start;
	int shutting_down, done;
	unsigned char down_client[MAX_CLIENT_ID];
	size_t down_client_len;
	int have_down_client;
	struct job *jobs;
	uint32_t next_exec_id, next_job_id;
	int64_t started_ms, all_ready_ms;
	unsigned long dropped_msgs;
	uint8_t *sendbuf;                       /* MC_PROTO_MAX_MSG bytes for encoding */
	char blank[PATH_MAX + 32];              /* empty overlay copied for each guest */
	struct mc_ksm_saved ksm;                /* host KSM settings to restore (density setting) */
	int64_t mem_checked_ms;                 /* last MemAvailable reading */
	uint64_t mem_avail0_mib;                /* MemAvailable before the first guest started */
	int64_t cpu_sampled_ms;                 /* last /proc/stat reading */
	unsigned long long cpu_busy, cpu_total; /* its busy and total jiffies */
	int congested;                          /* host CPUs > 90 % busy over the last second */
	int64_t calm_since_ms;                  /* when the host last stopped being saturated */
	int64_t held_logged_ms;                 /* last "holding heartbeat failures" message */
	uint64_t mem_avail_mib;                 /* that reading */
	struct ctl_fault *faults;        /* faults in force with a revert due (ctl_fault.c) */
	int partitioned;                 /* a partition's routing rules are installed */
	int64_t up_sent_ms, up_heard_ms; /* uplink heartbeats: last sent, last heard */
	struct {                         /* a collect request: its child process (ctl_collect.c) */
		pid_t pid;
		struct job *job;
		char dir[PATH_MAX + 32];
	} collect;
	struct {                 /* idle-cost measurement of live guests */
		int64_t next_ms; /* when to start the next one */
		int64_t t0_ms;   /* start of the running one, 0 = none */
		int n;
		unsigned idx[64];
		long long ticks[64];
		uint32_t execs; /* c->next_exec_id when it began: a command since spoils it */
	} sample;
};

/* Whether g is a guest this host runs (see enum ctl_slot). */
static inline int ctl_here(const struct guest *g)
{
	return g->slot == CTL_SLOT_HERE;
}

/* The slot holding cluster guest gi (here, arriving or away), or NULL. */
struct guest *ctl_guest_by_gindex(struct ctl *c, unsigned gi);
/* A control message to the cluster controller (a host daemon's uplink; takes msg). */
void ctl_uplink_send(struct ctl *c, json_t *msg);
/* Writes g's identity file (fw_cfg) to path. Returns 0 or -errno. */
int ctl_write_identity(struct ctl *c, struct guest *g, const char *path);
/* The job of client with number id, or NULL. */
struct job *ctl_job_find(struct ctl *c, uint32_t id, const unsigned char *client, size_t len);

/* Replies, jobs and guest state (controller.c). */
void ctl_reply_error(struct ctl *c, const unsigned char *client, size_t len, const char *text);
/* A request that acts on each guest of its "target": parses it, makes the job and calls fn
 * for every guest in the set (one part each: fn or what it starts must end it with a result
 * and ctl_job_part_done()). Replies with an error and returns < 0 for a malformed target,
 * one that matches nothing, or a cluster shutting down. */
int ctl_for_target(struct ctl *c, json_t *req, const char *op, const unsigned char *client,
                   size_t len, void (*fn)(struct ctl *c, struct job *j, struct guest *g, void *arg),
                   void *arg);
struct job *ctl_job_new(struct ctl *c, const char *op, const unsigned char *client, size_t len);
void ctl_job_send(struct ctl *c, struct job *j, json_t *msg, const void *data, size_t len);
void ctl_job_part_done(struct ctl *c, struct job *j);
/* Appends one line to the events file (takes ev). */
void ctl_events_append(struct ctl *c, json_t *ev);
void ctl_transition(struct ctl *c, struct guest *g, enum mc_vm_event ev, const char *why);
/* Ends g's commands in flight and a pending pause/resume with why. */
void ctl_fail_runs(struct ctl *c, struct guest *g, const char *why);
void ctl_epoll_sync(struct ctl *c, struct guest *g);
/* Where a guest's files are (in g->dir). */
struct ctl_guest_paths {
	char disk[PATH_MAX + 16], ident[PATH_MAX + 16], console[PATH_MAX + 16], log[PATH_MAX + 16];
};
void ctl_guest_paths(const struct guest *g, struct ctl_guest_paths *p);
/* The emulator spec of g as the controller starts it; from_template: a clone's memory
 * file and stub kernel (no incoming state set). Strings borrowed from c, g and p. */
void ctl_guest_spec(struct ctl *c, struct guest *g, int from_template,
                    const struct ctl_guest_paths *p, int tap_fd, struct mc_vm_spec *spec);
extern const struct mc_vmm_hooks ctl_vmm_hooks;
/* Starts g's QEMU; reboot = 1: a cold boot that keeps its disk (even in a clone cluster). */
void ctl_start_guest(struct ctl *c, struct guest *g, int reboot);
/* After a reboot's QEMU was reaped: back to booting with a fresh emulator (ctl_fault.c). */
void ctl_reboot_continue(struct ctl *c, struct guest *g);

/* Faults carried out by the controller (ctl_fault.c). */
void ctl_req_fault(struct ctl *c, json_t *req, const unsigned char *client, size_t len);
/* Reverts faults whose duration is over; returns ms until the next one is due (or -1). */
int64_t ctl_fault_tick(struct ctl *c, int64_t now);
/* Reverts every fault still in force (teardown). */
void ctl_fault_cleanup(struct ctl *c);

/* Starts g's QEMU; state: a checkpoint's state file to load (then from_template says how its
 * memory was set up), NULL for ctl_start_guest(). */
void ctl_start_guest_ex(struct ctl *c, struct guest *g, int reboot, const char *state,
                        int from_template);

/* Checkpoint and restore (ctl_checkpoint.c): requests "checkpoint" and "restore". */
void ctl_req_checkpoint(struct ctl *c, json_t *req, const char *op, const unsigned char *client,
                        size_t len);
/* A MIGRATION event from g's QEMU while it saves a checkpoint. */
void ctl_checkpoint_event(struct ctl *c, struct guest *g, json_t *data);
/* g's old QEMU is gone (or was): load the checkpoint. */
void ctl_restore_continue(struct ctl *c, struct guest *g);
/* The restored guest reached ready (ok = 1) or failed. */
void ctl_restore_done(struct ctl *c, struct guest *g, int ok);
/* Request "revive": failed guests boot again (cold, own disk); replies when ready. */
void ctl_req_revive(struct ctl *c, json_t *req, const unsigned char *client, size_t len);
/* The revived guest reached ready (ok = 1) or failed. */
void ctl_revive_done(struct ctl *c, struct guest *g, int ok);
/* Frees what a checkpoint or restore in progress holds (teardown). */
void ctl_checkpoint_cleanup(struct ctl *c, struct guest *g);

/* Files from the guests' disks (ctl_collect.c): request "collect", and its child's end. */
void ctl_req_collect(struct ctl *c, json_t *req, const unsigned char *client, size_t len);
/* A child was reaped: 1 when it was the collection's (its files are sent), else 0. */
int ctl_collect_reaped(struct ctl *c, pid_t pid, int status);
/* Ends a collection under way (teardown). */
void ctl_collect_cleanup(struct ctl *c);

/* Live migration to a new QEMU on this host (ctl_migrate.c). */
void ctl_req_migrate(struct ctl *c, json_t *req, const unsigned char *client, size_t len);
/* A MIGRATION event from g's (source) QEMU. */
void ctl_migrate_event(struct ctl *c, struct guest *g, json_t *data);
/* Gives up g's migration in progress (the guest stays where it is). */
void ctl_migrate_abort(struct ctl *c, struct guest *g, const char *why);
/* A finished outgoing migration's figures, from the source's query-migrate. */
struct ctl_mig_stats {
	json_int_t total, downtime, setup, bytes, passes;
};
/* ret: the source's query-migrate reply (NULL: none). QEMU says completed a moment before
 * it has computed the times: then query-migrate goes again (up to 50 times, counted in
 * *tries), its reply to again(g), and 1 is returned. Else fills s and returns 0. */
int ctl_mig_stats(struct ctl *c, struct guest *g, json_t *ret, int *tries,
                  void (*again)(void *, json_t *, const char *, const char *),
                  struct ctl_mig_stats *s);
/* A child was reaped: 1 when it was a migration's QEMU (handled), else 0. */
int ctl_migrate_reaped(struct ctl *c, pid_t pid, int status);
/* Deadlines and retired emulators; returns ms until the next deadline (or -1). */
int64_t ctl_migrate_tick(struct ctl *c, int64_t now);
/* The migration's target QEMU control connection was readable/writable. */
void ctl_migrate_io(struct ctl *c, struct guest *g, uint32_t events);
/* Migration to and from other hosts (ctl_xmig.c), driven by the cluster controller's
 * control messages "xmig_*" (docs/hosts.md). */
void ctl_xmig_control(struct ctl *c, const char *type, json_t *msg);
/* A QMP event from g's QEMU (source or target) while it migrates across hosts. */
void ctl_xmig_event(struct ctl *c, struct guest *g, const char *event, json_t *data);
/* Gives up g's migration across hosts: the guest stays on its source host. */
void ctl_xmig_abort(struct ctl *c, struct guest *g, const char *why);
/* An arriving guest's target QEMU was reaped (status as from waitpid). */
void ctl_xmig_reaped(struct ctl *c, struct guest *g, int status);
/* Deadlines; returns ms until the next one (or -1). */
int64_t ctl_xmig_tick(struct ctl *c, int64_t now);
/* Refusal of a migration of g in its current state, or NULL (ctl_migrate.c). */
const char *ctl_migrate_refusal(struct ctl *c, struct guest *g, char *buf, size_t cap);

/* A fault kind in force on guest gi ("" for none), for refusals. */
const char *ctl_fault_on_guest(struct ctl *c, unsigned gi);

#endif
