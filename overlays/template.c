/* template.c — template keys, the cache layout, and the boot-and-save procedure. */
#include "template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "overlay.h"
#include "util.h"

#define READY_LINE      "microcosm-agent template-ready"
#define BOOT_TIMEOUT_MS 120000
#define SAVE_TIMEOUT_MS 60000

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t hash_str(uint64_t h, const char *s)
{
	return fnv1a(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static int hash_file(uint64_t *h, const char *path)
{
	struct stat st;
	char buf[128];

	if (stat(path, &st) < 0)
		return -errno;
	*h = hash_str(*h, path);
	snprintf(buf, sizeof(buf), "%lld:%lld.%09ld", (long long)st.st_size,
	         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	*h = hash_str(*h, buf);
	return 0;
}

int mc_template_key(const struct mc_template_spec *s, char key[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[128];
	int err;

	h = hash_str(h, "microcosm-template-v2");
	if ((err = hash_file(&h, s->qemu)) < 0 || (err = hash_file(&h, s->kernel)) < 0 ||
	    (err = hash_file(&h, s->initrd)) < 0 || (err = hash_file(&h, s->base_image)) < 0)
		return err;
	h = hash_str(h, s->machine);
	h = hash_str(h, s->accel);
	h = hash_str(h, s->cmdline);
	snprintf(buf, sizeof(buf), "vcpus=%u mem=%llu tb=%u identity=%d share=%d", s->vcpus,
	         (unsigned long long)s->mem_mib, s->tb_mib, MC_IDENTITY_SIZE, s->share);
	h = hash_str(h, buf);
	snprintf(key, 17, "%016llx", (unsigned long long)h);
	return 0;
}

static void fill_paths(const char *dir, struct mc_template *t)
{
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	snprintf(t->memory, sizeof(t->memory), "%s/memory", dir);
	snprintf(t->state, sizeof(t->state), "%s/state", dir);
	snprintf(t->stub_kernel, sizeof(t->stub_kernel), "%s/stub-kernel", dir);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

int mc_template_write_stub_kernel(const char *path)
{
	enum { EHDR = 64, PHDR = 56, NOTE_OFF = EHDR + 2 * PHDR, NOTE_LEN = 20, CODE_OFF = 256 };
	const uint64_t base = 0x100000; /* where a PVH kernel is loaded */
	unsigned char f[CODE_OFF + 16] = {0};
	unsigned char *ph;

	/* ELF header: 64-bit, little-endian, executable, x86-64. */
	memcpy(f, "\177ELF", 4);
	f[4] = 2;
	f[5] = 1;
	f[6] = 1;
	put16(f + 16, 2);
	put16(f + 18, 62);
	put32(f + 20, 1);
	put64(f + 24, base + CODE_OFF);
	put64(f + 32, EHDR);
	put16(f + 52, EHDR);
	put16(f + 54, PHDR);
	put16(f + 56, 2);
	/* PT_LOAD: the whole file at 1 MiB. */
	ph = f + EHDR;
	put32(ph, 1);
	put32(ph + 4, 5);
	put64(ph + 16, base);
	put64(ph + 24, base);
	put64(ph + 32, sizeof(f));
	put64(ph + 40, sizeof(f));
	put64(ph + 48, 4096);
	/* PT_NOTE: XEN_ELFNOTE_PHYS32_ENTRY, which makes QEMU boot it the PVH way. */
	ph += PHDR;
	put32(ph, 4);
	put32(ph + 4, 4);
	put64(ph + 8, NOTE_OFF);
	put64(ph + 16, base + NOTE_OFF);
	put64(ph + 24, base + NOTE_OFF);
	put64(ph + 32, NOTE_LEN);
	put64(ph + 40, NOTE_LEN);
	put64(ph + 48, 4);
	put32(f + NOTE_OFF, 4);
	put32(f + NOTE_OFF + 4, 4);
	put32(f + NOTE_OFF + 8, 18);
	memcpy(f + NOTE_OFF + 12, "Xen", 4);
	put32(f + NOTE_OFF + 16, (uint32_t)(base + CODE_OFF));
	f[CODE_OFF] = 0xf4;     /* hlt */
	f[CODE_OFF + 1] = 0xeb; /* jmp . - 1 */
	f[CODE_OFF + 2] = 0xfd;
	return mc_write_file_atomic(path, f, sizeof(f), 0644);
}

int mc_template_lookup(const char *cache_dir, const char *key, struct mc_template *t)
{
	char dir[PATH_MAX], info[PATH_MAX + 32], *text = NULL, *p;

	memset(t, 0, sizeof(*t));
	snprintf(dir, sizeof(dir), "%s/templates/%s", cache_dir, key);
	snprintf(info, sizeof(info), "%s/template.info", dir);
	if (mc_read_file(info, 65536, &text, NULL) < 0)
		return -ENOENT;
	snprintf(t->key, sizeof(t->key), "%s", key);
	fill_paths(dir, t);
	if ((p = strstr(text, "mem_mib=")))
		t->mem_mib = strtoull(p + 8, NULL, 10);
	if ((p = strstr(text, "build_ms=")))
		t->build_ms = strtoll(p + 9, NULL, 10);
	if ((p = strstr(text, "built_at=")))
		t->built_at = strtoll(p + 9, NULL, 10);
	free(text);
	if (access(t->memory, R_OK) < 0 || access(t->state, R_OK) < 0 ||
	    access(t->stub_kernel, R_OK) < 0)
		return -ENOENT;
	return 0;
}

int mc_identity_write(const char *path, const char *text)
{
	char buf[MC_IDENTITY_SIZE];
	size_t n = strlen(text);

	if (n > sizeof(buf))
		return -E2BIG;
	memcpy(buf, text, n);
	memset(buf + n, '\n', sizeof(buf) - n);
	return mc_write_file_atomic(path, buf, sizeof(buf), 0644);
}

/* ---- synchronous QMP over the back end ---- */

struct sync_reply {
	int done;
	int err;
	char desc[256];
	char status[32]; /* query-migrate status */
};

static void on_sync(void *arg, json_t *ret, const char *cls, const char *desc)
{
	struct sync_reply *r = arg;

	r->done = 1;
	if (!ret) {
		r->err = -EIO;
		snprintf(r->desc, sizeof(r->desc), "%s: %s", cls ? cls : "error", desc ? desc : "");
		return;
	}
	if (json_is_object(ret) && json_is_string(json_object_get(ret, "status")))
		snprintf(r->status, sizeof(r->status), "%s",
		         json_string_value(json_object_get(ret, "status")));
}

/* Drives the back end's control connection for up to ms. */
static void pump(const struct mc_vmm_ops *ops, void *be, int ms)
{
	struct mc_vmm_info info;
	struct pollfd pfd;

	ops->query(be, &info);
	if (info.fd < 0) {
		usleep((useconds_t)ms * 1000);
		return;
	}
	pfd.fd = info.fd;
	pfd.events = POLLIN | ((info.events & 4 /* EPOLLOUT */) ? POLLOUT : 0);
	if (poll(&pfd, 1, ms) > 0)
		ops->on_io(be, !!(pfd.revents & (POLLIN | POLLHUP)), !!(pfd.revents & POLLOUT));
}

static int sync_cmd(const struct mc_vmm_ops *ops, void *be, const char *cmd, json_t *args,
                    int timeout_ms, struct sync_reply *r)
{
	int64_t deadline = mc_now_ms() + timeout_ms;
	int err;

	memset(r, 0, sizeof(*r));
	err = ops->command(be, cmd, args, on_sync, r);
	if (err)
		return err;
	while (!r->done && mc_now_ms() < deadline)
		pump(ops, be, 50);
	if (!r->done) {
		snprintf(r->desc, sizeof(r->desc), "%s: no reply", cmd);
		return -ETIMEDOUT;
	}
	return r->err;
}

static int console_has(const char *path, const char *needle)
{
	char *text = NULL;
	int found;

	if (mc_read_file(path, 1 << 20, &text, NULL) < 0)
		return 0;
	found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

static const struct mc_vmm_hooks no_hooks;

static int build_here(const char *cache_dir, const struct mc_template_spec *s,
                      struct mc_template *t, int quiet, int tap_fd, char *err, size_t errlen)
{
	char key[17], tmp[PATH_MAX], final[PATH_MAX], root[PATH_MAX];
	char ident[PATH_MAX + 16], console[PATH_MAX + 16], log[PATH_MAX + 16], disk[PATH_MAX + 16];
	char share[PATH_MAX + 16];
	char uri[PATH_MAX + 32], info[1024];
	struct mc_vm_spec vs = {0};
	struct sync_reply r;
	struct mc_vmm_info vi;
	void *be = NULL;
	int64_t t0 = mc_now_ms(), deadline;
	int rc, n;

	if ((rc = mc_template_key(s, key)) < 0) {
		snprintf(err, errlen, "template inputs: %s", strerror(-rc));
		return rc;
	}
	snprintf(root, sizeof(root), "%s/templates", cache_dir);
	if ((rc = mc_mkdir_p(root, 0755)) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", root, strerror(-rc));
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s/.build-%s-XXXXXX", root, key);
	if (!mkdtemp(tmp)) {
		rc = -errno;
		snprintf(err, errlen, "mkdtemp %s: %s", tmp, strerror(errno));
		return rc;
	}
	snprintf(ident, sizeof(ident), "%s/identity", tmp);
	snprintf(console, sizeof(console), "%s/console.log", tmp);
	snprintf(log, sizeof(log), "%s/qemu.log", tmp);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp);
	snprintf(share, sizeof(share), "%s/share", tmp);
	fill_paths(tmp, t);
	/* The export device needs a directory; clones point it at their own. */
	if (s->share && mkdir(share, 0755) < 0) {
		rc = -errno;
		snprintf(err, errlen, "mkdir %s: %s", share, strerror(errno));
		goto fail;
	}
	if ((rc = mc_identity_write(ident, "version=1\nname=template\ntemplate=1\n")) < 0 ||
	    (rc = mc_overlay_create(s->base_image, disk)) < 0) {
		snprintf(err, errlen, "prepare %s: %s", tmp, strerror(-rc));
		goto fail;
	}
	vs.name = "template";
	vs.qemu = s->qemu;
	vs.accel = s->accel;
	vs.machine = s->machine;
	vs.vcpus = s->vcpus;
	vs.mem_mib = s->mem_mib;
	vs.tb_size_mib = s->tb_mib;
	vs.kernel = s->kernel;
	vs.initrd = s->initrd;
	vs.cmdline = s->cmdline;
	vs.disk = disk;
	vs.identity = ident;
	vs.console_log = console;
	vs.log = log;
	vs.tap_fd = tap_fd;
	vs.mem_path = t->memory;
	vs.mem_share = 1;
	vs.share = s->share ? share : NULL;
	if (!quiet)
		fprintf(stderr, "template %s: booting (%s, %llu MiB, %u vCPU)...\n", key, s->accel,
		        (unsigned long long)s->mem_mib, s->vcpus);
	be = s->ops->create(&vs, &no_hooks, NULL);
	if (!be || (rc = s->ops->start(be)) < 0) {
		rc = be ? rc : -ENOMEM;
		snprintf(err, errlen, "start qemu: %s", strerror(-rc));
		goto fail;
	}
	s->ops->query(be, &vi);
	deadline = mc_now_ms() + BOOT_TIMEOUT_MS;
	while (!console_has(console, READY_LINE)) {
		int st;

		if (waitpid(vi.pid, &st, WNOHANG) == vi.pid) {
			s->ops->exited(be);
			rc = -ECHILD;
			snprintf(err, errlen, "template guest exited during boot (see %s)", log);
			goto fail;
		}
		if (mc_now_ms() > deadline) {
			rc = -ETIMEDOUT;
			snprintf(err, errlen, "template guest not ready after %d s",
			         BOOT_TIMEOUT_MS / 1000);
			goto fail;
		}
		pump(s->ops, be, 20);
	}
	/* Let the agent settle into its polling sleep before stopping the vCPUs. */
	for (int i = 0; i < 5; i++)
		pump(s->ops, be, 20);
	if ((rc = sync_cmd(s->ops, be, "stop", NULL, 10000, &r)) < 0)
		goto qmp_fail;
	rc = sync_cmd(s->ops, be, "migrate-set-capabilities",
	              json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "x-ignore-shared",
	                        "state", 1),
	              10000, &r);
	if (rc < 0)
		goto qmp_fail;
	snprintf(uri, sizeof(uri), "exec:cat > '%s'", t->state);
	if ((rc = sync_cmd(s->ops, be, "migrate", json_pack("{s:s}", "uri", uri), 10000, &r)) < 0)
		goto qmp_fail;
	deadline = mc_now_ms() + SAVE_TIMEOUT_MS;
	for (;;) {
		if ((rc = sync_cmd(s->ops, be, "query-migrate", NULL, 10000, &r)) < 0)
			goto qmp_fail;
		if (strcmp(r.status, "completed") == 0)
			break;
		if (strcmp(r.status, "failed") == 0 || strcmp(r.status, "cancelled") == 0 ||
		    mc_now_ms() > deadline) {
			rc = -EIO;
			snprintf(err, errlen, "saving the template: migration %s",
			         r.status[0] ? r.status : "timed out");
			goto fail;
		}
		pump(s->ops, be, 20);
	}
	sync_cmd(s->ops, be, "quit", NULL, 5000, &r);
	if ((rc = mc_template_write_stub_kernel(t->stub_kernel)) < 0) {
		snprintf(err, errlen, "write %s: %s", t->stub_kernel, strerror(-rc));
		goto fail;
	}
	s->ops->destroy(&be); /* reaps */
	unlink(disk);
	unlink(ident);
	t->mem_mib = s->mem_mib;
	t->build_ms = mc_now_ms() - t0;
	t->built_at = (int64_t)time(NULL);
	n = snprintf(info, sizeof(info),
	             "key=%s\nbuilt_at=%lld\nbuild_ms=%lld\naccel=%s\nmachine=%s\nmem_mib=%llu\n"
	             "vcpus=%u\ntb_mib=%u\nkernel=%s\ninitrd=%s\nbase_image=%s\ncmdline=%s\n",
	             key, (long long)t->built_at, (long long)t->build_ms, s->accel, s->machine,
	             (unsigned long long)s->mem_mib, s->vcpus, s->tb_mib, s->kernel, s->initrd,
	             s->base_image, s->cmdline);
	{
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/template.info", tmp);
		if ((rc = mc_write_file_atomic(p, info, (size_t)n, 0644)) < 0) {
			snprintf(err, errlen, "write %s: %s", p, strerror(-rc));
			goto fail;
		}
	}
	snprintf(final, sizeof(final), "%s/%s", root, key);
	mc_rm_rf(final); /* an incomplete leftover of an earlier build */
	if (rename(tmp, final) < 0) {
		rc = -errno;
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	snprintf(t->key, sizeof(t->key), "%s", key);
	fill_paths(final, t);
	if (!quiet)
		fprintf(stderr, "template %s: saved in %.1f s (%s)\n", key,
		        (double)t->build_ms / 1000.0, final);
	return 0;
qmp_fail:
	snprintf(err, errlen, "saving the template: %s", r.desc[0] ? r.desc : strerror(-rc));
fail:
	if (be)
		s->ops->destroy(&be);
	mc_rm_rf(tmp);
	return rc;
}

/*
 * The template needs a NIC like its clones (same devices, same order), and
 * every NIC needs a back end; a user-mode one would carry its own migration
 * state. So the build runs in a child process in a private network
 * namespace with a tap that carries nothing and vanishes with the child.
 */
int mc_template_build(const char *cache_dir, const struct mc_template_spec *s,
                      struct mc_template *t, int quiet, char *err, size_t errlen)
{
	char key[17];
	int pfd[2], status, rc;
	ssize_t n;
	pid_t pid;

	if ((rc = mc_template_key(s, key)) < 0) {
		snprintf(err, errlen, "template inputs: %s", strerror(-rc));
		return rc;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid == 0) {
		char why[512] = "";
		int tap = -1;

		close(pfd[0]);
		if (unshare(CLONE_NEWNET) < 0) {
			snprintf(why, sizeof(why), "private network namespace: %s",
			         strerror(errno));
			rc = -1;
		} else if ((rc = mc_net_tap_create("mctpl", &tap)) < 0) {
			snprintf(why, sizeof(why), "template tap: %s", strerror(-rc));
		} else {
			rc = build_here(cache_dir, s, t, quiet, tap, why, sizeof(why));
		}
		if (rc < 0 && write(pfd[1], why, strlen(why)) < 0)
			rc = -1;
		_exit(rc < 0 ? 1 : 0);
	}
	close(pfd[1]);
	n = read(pfd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!err[0])
			snprintf(err, errlen, "template build process ended with status 0x%x",
			         (unsigned)status);
		return -EIO;
	}
	return mc_template_lookup(cache_dir, key, t);
}

int mc_template_ensure(const char *cache_dir, const struct mc_template_spec *spec,
                       struct mc_template *t, int *built, int quiet, char *err, size_t errlen)
{
	char key[17];
	int rc = mc_template_key(spec, key);

	*built = 0;
	if (rc < 0) {
		snprintf(err, errlen, "template inputs: %s", strerror(-rc));
		return rc;
	}
	if (mc_template_lookup(cache_dir, key, t) == 0)
		return 0;
	*built = 1;
	return mc_template_build(cache_dir, spec, t, quiet, err, errlen);
}

int mc_template_list(const char *cache_dir, void (*fn)(void *arg, const struct mc_template *t),
                     void *arg)
{
	char root[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int count = 0;

	snprintf(root, sizeof(root), "%s/templates", cache_dir);
	d = opendir(root);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct mc_template t;

		if (de->d_name[0] == '.' || strlen(de->d_name) != 16)
			continue;
		if (mc_template_lookup(cache_dir, de->d_name, &t) == 0) {
			count++;
			if (fn)
				fn(arg, &t);
		}
	}
	closedir(d);
	return count;
}

int mc_template_remove(const char *cache_dir, const char *key)
{
	char dir[PATH_MAX];
	struct stat st;

	if (strlen(key) != 16 || strspn(key, "0123456789abcdef") != 16)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/templates/%s", cache_dir, key);
	if (stat(dir, &st) < 0)
		return -errno;
	return mc_rm_rf(dir);
}
