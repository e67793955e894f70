/* vmm_qemu.c — the QEMU microvm back end: argv, process spawn, QMP control. */
#include "vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"

#define CHILD_QMP_FD 3
#define CHILD_TAP_FD 4
#define MAX_ARGS     64

struct vm_qemu {
	char *name;
	char *argv_buf; /* backing store of argv strings */
	char *argv[MAX_ARGS];
	char *log;        /* emulator stdout/stderr file */
	int tap_fd;       /* borrowed from the fleet */
	int no_aslr, ksm; /* density settings for the child */
	char *incoming;   /* state file to restore, NULL for a cold boot */
	pid_t pid;
	struct mc_qmp *qmp;
	const struct mc_vmm_hooks *hooks;
	void *arg;
};

struct argv_builder {
	char **argv;
	int argc, max;
	char *buf;
	size_t used, cap;
	int err;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct argv_builder *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	if (b->argc + 1 >= b->max) {
		b->err = -ENOSPC;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->used, b->cap - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->used) {
		b->err = -ENOSPC;
		return;
	}
	b->argv[b->argc++] = b->buf + b->used;
	b->argv[b->argc] = NULL;
	b->used += (size_t)n + 1;
}

int mc_vmm_qemu_argv(const struct mc_vm_spec *s, int qmp_fd, int tap_fd, char **argv, int max,
                     char *buf, size_t cap)
{
	struct argv_builder b = {argv, 0, max, buf, 0, cap, 0};
	int kvm = strcmp(s->accel, "kvm") == 0;

	add(&b, "%s", s->qemu);
	add(&b, "-name");
	add(&b, "%s", s->name);
	add(&b, "-M");
	add(&b, "%s%s", s->machine ? s->machine : "microvm,acpi=off",
	    s->mem_path ? ",memory-backend=mem" : "");
	if (s->mem_path) {
		add(&b, "-object");
		add(&b, "memory-backend-file,id=mem,size=%lluM,mem-path=%s,share=%s",
		    (unsigned long long)s->mem_mib, s->mem_path, s->mem_share ? "on" : "off");
	}
	if (s->incoming || s->listen) {
		/* Restored over QMP once capabilities are set (see qemu_start). */
		add(&b, "-incoming");
		add(&b, "defer");
	}
	add(&b, "-accel");
	if (kvm)
		add(&b, "kvm");
	else
		add(&b, "tcg,tb-size=%u", s->tb_size_mib ? s->tb_size_mib : 32);
	add(&b, "-cpu");
	add(&b, "%s", kvm ? "host" : "max");
	add(&b, "-smp");
	add(&b, "%u", s->vcpus ? s->vcpus : 1);
	add(&b, "-m");
	add(&b, "%lluM", (unsigned long long)s->mem_mib);
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	add(&b, "-display");
	add(&b, "none");
	add(&b, "-no-reboot");
	/* Appended to: a migrated guest's new QEMU goes on with the same console file. */
	add(&b, "-chardev");
	add(&b, "file,id=con0,path=%s,append=on", s->console_log);
	add(&b, "-serial");
	add(&b, "chardev:con0");
	add(&b, "-kernel");
	add(&b, "%s", s->kernel);
	if (s->initrd) {
		add(&b, "-initrd");
		add(&b, "%s", s->initrd);
	}
	add(&b, "-append");
	add(&b, "%s", s->cmdline);
	if (s->identity) {
		add(&b, "-fw_cfg");
		add(&b, "name=opt/microcosm/identity,file=%s", s->identity);
	}
	add(&b, "-chardev");
	add(&b, "socket,id=qmp,fd=%d", qmp_fd);
	add(&b, "-mon");
	add(&b, "chardev=qmp,mode=control");
	if (tap_fd >= 0) {
		add(&b, "-netdev");
		add(&b, "tap,id=n0,fd=%d", tap_fd);
		add(&b, "-device");
		add(&b, "virtio-net-device,netdev=n0,mac=%s",
		    s->mac ? s->mac : "52:54:00:ff:ff:ff");
	}
	if (s->disk) {
		/* file -> qcow2 -> raw: the raw node's child can be swapped at run time for a
		 * blkdebug node that fails requests (fault kind disk-error, ctl_fault.c).
		 * cache.no-flush=on on every node is -drive's cache=unsafe. */
		add(&b, "-blockdev");
		add(&b, "driver=file,node-name=f0,filename=%s,cache.no-flush=on", s->disk);
		add(&b, "-blockdev");
		add(&b, "driver=qcow2,node-name=q0,file=f0,cache.no-flush=on");
		add(&b, "-blockdev");
		add(&b, "driver=raw,node-name=top0,file=q0,cache.no-flush=on");
		add(&b, "-device");
		add(&b, "virtio-blk-device,drive=top0");
	}
	if (s->share) {
		/* Read-only export, tag "mcshare"; the agent mounts it at /share. A
		 * template has the device (clones need the same devices) but never
		 * mounts it: QEMU refuses to migrate a mounted 9p export. */
		add(&b, "-fsdev");
		add(&b, "local,id=fs0,path=%s,security_model=none,readonly=on", s->share);
		add(&b, "-device");
		add(&b, "virtio-9p-device,fsdev=fs0,mount_tag=mcshare");
	}
	return b.err ? b.err : b.argc;
}

static void on_restore_reply(void *arg, json_t *ret, const char *cls, const char *desc);

static void on_qmp_event(void *arg, const char *event, json_t *data)
{
	struct vm_qemu *vm = arg;

	if (vm->incoming && strcmp(event, "MIGRATION") == 0) {
		const char *st = json_string_value(json_object_get(data, "status"));

		/* An incoming guest stays paused once loaded: continue it. Only once: later
		 * MIGRATION events are the guest's own outgoing migrations. */
		if (st && strcmp(st, "completed") == 0) {
			mc_qmp_send(vm->qmp, "cont", NULL, on_restore_reply, vm);
			free(vm->incoming);
			vm->incoming = NULL;
		} else if (st && strcmp(st, "failed") == 0) {
			free(vm->incoming);
			vm->incoming = NULL;
			if (vm->hooks->on_done)
				vm->hooks->on_done(vm->arg, "restore", -EIO,
				                   "loading the template state failed");
		}
	}

	if (vm->hooks->on_event)
		vm->hooks->on_event(vm->arg, event, data);
}

static void *qemu_create(const struct mc_vm_spec *spec, const struct mc_vmm_hooks *hooks, void *arg)
{
	struct vm_qemu *vm = calloc(1, sizeof(*vm));
	const size_t cap = 16384;
	int n;

	if (!vm)
		return NULL;
	vm->name = strdup(spec->name);
	vm->log = strdup(spec->log);
	vm->argv_buf = malloc(cap);
	vm->tap_fd = spec->tap_fd;
	vm->no_aslr = spec->no_aslr;
	vm->incoming = spec->incoming ? strdup(spec->incoming) : NULL;
	vm->ksm = spec->ksm;
	vm->hooks = hooks;
	vm->arg = arg;
	if (!vm->name || !vm->log || !vm->argv_buf)
		goto fail;
	n = mc_vmm_qemu_argv(spec, CHILD_QMP_FD, spec->tap_fd >= 0 ? CHILD_TAP_FD : -1, vm->argv,
	                     MAX_ARGS, vm->argv_buf, cap);
	if (n < 0) {
		mc_err("vm %s: qemu command line too long", spec->name);
		goto fail;
	}
	return vm;
fail:
	free(vm->name);
	free(vm->log);
	free(vm->argv_buf);
	free(vm);
	return NULL;
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void child_exec(struct vm_qemu *vm, int qmp_fd, pid_t parent)
{
	int logfd, nullfd;

	setpgid(0, 0); /* terminal signals go to the controller, not to guests */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0); /* THP adds 7-9 MiB per QEMU (DESIGN.md) */
	if (vm->no_aslr)
		personality(ADDR_NO_RANDOMIZE);
	if (vm->ksm)
		prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0);
	nullfd = open("/dev/null", O_RDONLY);
	logfd = open(vm->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (nullfd < 0 || logfd < 0)
		_exit(127);
	/* Move the descriptors above the fixed slots first, then into them. */
	qmp_fd = fcntl(qmp_fd, F_DUPFD, 16);
	if (vm->tap_fd >= 0)
		vm->tap_fd = fcntl(vm->tap_fd, F_DUPFD, 16);
	nullfd = fcntl(nullfd, F_DUPFD, 16);
	logfd = fcntl(logfd, F_DUPFD, 16);
	if (qmp_fd < 0 || nullfd < 0 || logfd < 0)
		_exit(127);
	dup2(nullfd, 0);
	dup2(logfd, 1);
	dup2(logfd, 2);
	dup2(qmp_fd, CHILD_QMP_FD);
	if (vm->tap_fd >= 0)
		dup2(vm->tap_fd, CHILD_TAP_FD);
	close_range(CHILD_TAP_FD + 1, ~0U, 0);
	/* Restore default signal dispositions and an empty mask for QEMU. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(vm->argv[0], vm->argv);
	_exit(127);
}

static void on_restore_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct vm_qemu *vm = arg;

	if (!ret && vm->hooks->on_done)
		vm->hooks->on_done(vm->arg, "restore", -EIO, desc ? desc : cls);
}

static int qemu_start(void *be)
{
	struct vm_qemu *vm = be;
	int sv[2];
	pid_t parent = getpid(), pid;

	if (vm->pid > 0)
		return -EALREADY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0)
		child_exec(vm, sv[1], parent);
	close(sv[1]);
	vm->pid = pid;
	vm->qmp = mc_qmp_new(sv[0], on_qmp_event, vm);
	if (!vm->qmp) {
		close(sv[0]);
		kill(pid, SIGKILL);
		return -ENOMEM;
	}
	if (vm->incoming) {
		/* A clone: the template's RAM is the shared file, so only device state
		 * travels; the guest runs as soon as it is loaded. Both commands wait
		 * in the QMP queue until the greeting has been answered. */
		char uri[PATH_MAX + 16];

		snprintf(uri, sizeof(uri), "exec:cat '%s'", vm->incoming);
		mc_qmp_send(vm->qmp, "migrate-set-capabilities",
		            json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities", "capability",
		                      "x-ignore-shared", "state", 1, "capability", "events",
		                      "state", 1),
		            on_restore_reply, vm);
		mc_qmp_send(vm->qmp, "migrate-incoming", json_pack("{s:s}", "uri", uri),
		            on_restore_reply, vm);
	}
	return 0;
}

struct op_ctx {
	struct vm_qemu *vm;
	const char *op;
};

static void on_reply(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct op_ctx *c = arg;
	struct vm_qemu *vm = c->vm;

	if (vm->hooks->on_done)
		vm->hooks->on_done(vm->arg, c->op, ret ? 0 : -EIO,
		                   ret ? NULL : (desc ? desc : (cls ? cls : "error")));
	free(c);
}

static int send_op(struct vm_qemu *vm, const char *cmd, const char *op)
{
	struct op_ctx *c;
	int err;

	if (!vm->qmp)
		return -ENOTCONN;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->op = op;
	err = mc_qmp_send(vm->qmp, cmd, NULL, on_reply, c);
	if (err)
		free(c);
	return err;
}

static int qemu_command(void *be, const char *cmd, json_t *args, mc_qmp_reply_cb cb, void *arg)
{
	struct vm_qemu *vm = be;

	if (!vm->qmp) {
		json_decref(args);
		return -ENOTCONN;
	}
	return mc_qmp_send(vm->qmp, cmd, args, cb, arg);
}

static int qemu_pause(void *be)
{
	return send_op(be, "stop", "pause");
}

static int qemu_resume(void *be)
{
	return send_op(be, "cont", "resume");
}

static int qemu_stop(void *be)
{
	return send_op(be, "quit", "stop");
}

static int qemu_kill(void *be)
{
	struct vm_qemu *vm = be;

	if (vm->pid <= 0)
		return -ESRCH;
	return kill(vm->pid, SIGKILL) < 0 ? -errno : 0;
}

static void qemu_query(void *be, struct mc_vmm_info *info)
{
	struct vm_qemu *vm = be;

	info->pid = vm->pid;
	info->fd = vm->qmp ? mc_qmp_fd(vm->qmp) : -1;
	info->events = EPOLLIN | (vm->qmp && mc_qmp_want_write(vm->qmp) ? EPOLLOUT : 0);
}

static int qemu_on_io(void *be, int readable, int writable)
{
	struct vm_qemu *vm = be;
	int err = 0;

	if (!vm->qmp)
		return -ENOTCONN;
	if (writable)
		err = mc_qmp_flush(vm->qmp);
	if (!err && readable)
		err = mc_qmp_on_readable(vm->qmp);
	if (err < 0)
		mc_qmp_destroy(&vm->qmp); /* pending callbacks fire with "Disconnected" */
	return err;
}

static void qemu_exited(void *be)
{
	struct vm_qemu *vm = be;

	vm->pid = 0;
	mc_qmp_destroy(&vm->qmp);
}

static const struct mc_vmm_hooks null_hooks;

static void qemu_destroy(void **bep)
{
	struct vm_qemu *vm;

	if (!bep || !*bep)
		return;
	vm = *bep;
	*bep = NULL;
	vm->hooks = &null_hooks; /* the owner is going away: no more callbacks */
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
	}
	mc_qmp_destroy(&vm->qmp);
	free(vm->name);
	free(vm->log);
	free(vm->incoming);
	free(vm->argv_buf);
	free(vm);
}

const struct mc_vmm_ops mc_vmm_qemu_ops = {
        .name = "qemu-microvm",
        .create = qemu_create,
        .start = qemu_start,
        .pause = qemu_pause,
        .resume = qemu_resume,
        .stop = qemu_stop,
        .command = qemu_command,
        .kill = qemu_kill,
        .query = qemu_query,
        .on_io = qemu_on_io,
        .exited = qemu_exited,
        .destroy = qemu_destroy,
};
