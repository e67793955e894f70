/* vmm.h — the virtual-machine back-end interface: one ops table per back end. */
#ifndef MC_VMM_H
#define MC_VMM_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

/* What one guest is made of. All strings borrowed for the create() call;
 * the back end copies what it keeps. */
struct mc_vm_spec {
	const char *name;        /* guest name, e.g. "g0003" */
	unsigned index;          /* guest index */
	const char *qemu;        /* emulator binary */
	const char *accel;       /* "kvm" or "tcg" */
	const char *machine;     /* -M value, e.g. "microvm,acpi=off" (NULL = that) */
	unsigned vcpus;          /* virtual CPUs */
	uint64_t mem_mib;        /* guest RAM, MiB */
	unsigned tb_size_mib;    /* TCG translation buffer, MiB (ignored under KVM) */
	const char *kernel;      /* vmlinux or bzImage */
	const char *initrd;      /* initramfs, may be NULL */
	const char *cmdline;     /* kernel command line */
	const char *disk;        /* qcow2 overlay, may be NULL */
	const char *identity;    /* file exposed as fw_cfg opt/microcosm/identity, may be NULL */
	const char *console_log; /* file receiving the serial console */
	const char *log;         /* file receiving the emulator's own stdout/stderr */
	int tap_fd;              /* open tap device, or -1 for no network (borrowed) */
	const char *mac;         /* MAC of the guest NIC, "52:54:00:..." */
	const char *mem_path;    /* file backing guest RAM (templates, clones); NULL = anonymous */
	int mem_share;        /* 1: RAM writes reach the file (template); 0: private COW (clone) */
	const char *incoming; /* migration state to restore (clone); NULL = cold boot */
	int listen;           /* 1: start with -incoming defer and wait: the owner sends
	                       * migrate-incoming itself (live migration's target) */
	int no_aslr;          /* density: start the emulator without ASLR (see docs) */
	int ksm;              /* density: PR_SET_MEMORY_MERGE on the whole emulator */
	const char *share;    /* host directory exported read-only over virtio-9p; NULL = none */
};

/* Callbacks from a back end into its owner (the fleet). */
struct mc_vmm_hooks {
	/* Asynchronous event from the emulator, e.g. "STOP", "RESUME", "SHUTDOWN". */
	void (*on_event)(void *arg, const char *event, json_t *data);
	/* Completion of pause/resume/stop: op is "pause", "resume", "stop";
	 * err 0 or negative with desc. */
	void (*on_done)(void *arg, const char *op, int err, const char *desc);
};

struct mc_vmm_info {
	pid_t pid;  /* emulator process, 0 when not running */
	int fd;     /* control connection to poll, -1 if none */
	int events; /* EPOLLIN and, when output is queued, EPOLLOUT */
};

struct mc_vmm_ops {
	const char *name;
	/* Builds the back end's state for spec; does no I/O. Caller owns
	 * result; free with destroy(). NULL on error (logged). */
	void *(*create)(const struct mc_vm_spec *spec, const struct mc_vmm_hooks *hooks, void *arg);
	/* Starts the emulator. Returns 0 or a negative errno. */
	int (*start)(void *be);
	/* Asynchronous: stop/continue the vCPUs; gracefully end the emulator.
	 * Completion reaches hooks->on_done. Return 0 if the request was sent. */
	int (*pause)(void *be);
	int (*resume)(void *be);
	int (*stop)(void *be);
	/* Sends any QMP command (args taken; may be NULL); cb gets the reply.
	 * Returns 0 if the request was queued. */
	int (*command)(void *be, const char *cmd, json_t *args,
	               void (*cb)(void *arg, json_t *ret, const char *cls, const char *desc),
	               void *arg);
	/* Immediately kills the emulator (SIGKILL). Returns 0 or -errno. */
	int (*kill)(void *be);
	/* Fills info. */
	void (*query)(void *be, struct mc_vmm_info *info);
	/* The control fd polled readable/writable. Returns 0 or negative when
	 * the control connection is gone. */
	int (*on_io)(void *be, int readable, int writable);
	/* Tells the back end its process was reaped. */
	void (*exited)(void *be);
	/* Releases everything (kills a still-running emulator). Nulls *be. */
	void (*destroy)(void **be);
};

extern const struct mc_vmm_ops mc_vmm_qemu_ops;

/*
 * Builds the emulator argv for spec into argv (at most max entries incl.
 * the NULL terminator), with strings in buf (size cap). qmp_fd and tap_fd are
 * the descriptor numbers the child will see. Returns the argc or -ENOSPC.
 * Exposed for unit tests.
 */
int mc_vmm_qemu_argv(const struct mc_vm_spec *spec, int qmp_fd, int tap_fd, char **argv, int max,
                     char *buf, size_t cap);

#endif
