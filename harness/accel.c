/* accel.c — accelerator probe boot and the per-accelerator kernel command line. */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vmm.h"

#define READY_LINE "microcosm-agent ready"

int mc_accel_cmdline(const char *accel, uint64_t tsc_khz, char *buf, size_t cap)
{
	int n;

	n = snprintf(buf, cap,
	             "console=ttyS0 quiet panic=-1 reboot=t ifb.numifbs=0 "
	             "qemu_fw_cfg.ioport=12@0x510:0:1:4");
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	if (strcmp(accel, "tcg") == 0) {
		size_t used = (size_t)n;

		n = snprintf(buf + used, cap - used,
		             " lpj=2000000 lapic=notscdeadline tsc=reliable");
		if (n < 0 || (size_t)n >= cap - used)
			return -ENOSPC;
		used += (size_t)n;
		if (tsc_khz) {
			n = snprintf(buf + used, cap - used, " tsc_early_khz=%llu",
			             (unsigned long long)tsc_khz);
			if (n < 0 || (size_t)n >= cap - used)
				return -ENOSPC;
		}
	}
	return 0;
}

static const struct mc_vmm_hooks probe_hooks;

int mc_accel_probe(const char *accel, const char *qemu, const char *machine, const char *kernel,
                   const char *initrd, int timeout_ms)
{
	char dir[] = "/tmp/microcosm-probe-XXXXXX", id[128], console[128], log[128];
	char cmdline[512];
	struct mc_vm_spec spec = {0};
	struct mc_vmm_info info;
	void *be = NULL;
	int64_t deadline;
	int err = -ETIMEDOUT;
	static const char ident[] = "version=1\nname=probe\nindex=0\nip=10.77.0.2\nprefix=16\n"
	                            "controller=tcp://10.77.0.1:7070\nheartbeat_ms=1000\nprobe=1\n";

	if (!mkdtemp(dir))
		return -errno;
	snprintf(id, sizeof(id), "%s/identity", dir);
	snprintf(console, sizeof(console), "%s/console.log", dir);
	snprintf(log, sizeof(log), "%s/qemu.log", dir);
	if ((err = mc_write_file_atomic(id, ident, sizeof(ident) - 1, 0644)) < 0)
		goto out;
	if ((err = mc_accel_cmdline(accel, mc_host_tsc_khz(), cmdline, sizeof(cmdline))) < 0)
		goto out;
	spec.name = "probe";
	spec.qemu = qemu;
	spec.accel = accel;
	spec.machine = machine;
	spec.vcpus = 1;
	spec.mem_mib = 128;
	spec.tb_size_mib = 32;
	spec.kernel = kernel;
	spec.initrd = initrd;
	spec.cmdline = cmdline;
	spec.identity = id;
	spec.console_log = console;
	spec.log = log;
	spec.tap_fd = -1;
	be = mc_vmm_qemu_ops.create(&spec, &probe_hooks, NULL);
	if (!be) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = mc_vmm_qemu_ops.start(be)) < 0)
		goto out;
	mc_vmm_qemu_ops.query(be, &info);
	deadline = mc_now_ms() + timeout_ms;
	err = -ETIMEDOUT;
	while (mc_now_ms() < deadline) {
		char *text = NULL;
		int status;

		if (mc_read_file(console, 1 << 20, &text, NULL) == 0) {
			int found = strstr(text, READY_LINE) != NULL;

			free(text);
			if (found) {
				err = 0;
				break;
			}
		}
		if (waitpid(info.pid, &status, WNOHANG) == info.pid) {
			mc_vmm_qemu_ops.exited(be);
			err = -ECHILD;
			break;
		}
		/* Answer QMP so the monitor never blocks QEMU. */
		mc_vmm_qemu_ops.on_io(be, 1, 1);
		usleep(50 * 1000);
	}
out:
	if (be)
		mc_vmm_qemu_ops.destroy(&be); /* kills and reaps */
	mc_rm_rf(dir);
	return err;
}

static void cache_key(const struct mc_assets *a, const char *qemu, char *buf, size_t cap)
{
	struct utsname u;

	uname(&u);
	snprintf(buf, cap, "%s|%s|%s", a->hash, u.release, qemu);
}

int mc_accel_choose(const char *want, const char *qemu, const struct mc_assets *a,
                    const char *cache_dir, char out[8], char *why, size_t whylen)
{
	char path[4096], key[1024], *text = NULL;
	int fd, err;
	int64_t t0;

	if (strcmp(want, "tcg") == 0) {
		snprintf(out, 8, "tcg");
		snprintf(why, whylen, "tcg (asked for)");
		return 0;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	if (strcmp(want, "kvm") == 0) {
		if (fd < 0) {
			snprintf(why, whylen, "kvm asked for, but /dev/kvm: %s", strerror(errno));
			return -ENODEV;
		}
		snprintf(out, 8, "kvm");
		snprintf(why, whylen, "kvm (asked for)");
		return 0;
	}
	if (strcmp(want, "auto") != 0) {
		snprintf(why, whylen, "unknown accelerator '%s' (use kvm, tcg or auto)", want);
		return -EINVAL;
	}
	if (fd < 0) {
		snprintf(out, 8, "tcg");
		snprintf(why, whylen, "tcg (no usable /dev/kvm)");
		return 0;
	}
	cache_key(a, qemu, key, sizeof(key));
	snprintf(path, sizeof(path), "%s/accel.probe", cache_dir);
	if (mc_read_file(path, 8192, &text, NULL) == 0) {
		char *nl = strchr(text, '\n');

		if (nl && strncmp(nl + 1, key, strlen(key)) == 0 &&
		    (strncmp(text, "kvm", 3) == 0 || strncmp(text, "tcg", 3) == 0)) {
			snprintf(out, 8, "%.3s", text);
			snprintf(why, whylen, "%s (probe result cached in %s)", out, path);
			free(text);
			return 0;
		}
		free(text);
	}
	mc_info("accel: probing kvm with a test boot (up to 10 s)");
	t0 = mc_now_ms();
	err = mc_accel_probe("kvm", qemu, a->kernel_machine, a->kernel, a->initrd, 10000);
	snprintf(out, 8, "%s", err == 0 ? "kvm" : "tcg");
	snprintf(why, whylen, "%s (kvm probe %s after %lld ms)", out,
	         err == 0 ? "reached the agent" : "did not reach the agent",
	         (long long)(mc_now_ms() - t0));
	{
		char buf[1200];
		int n = snprintf(buf, sizeof(buf), "%s\n%s\n", out, key);

		mc_write_file_atomic(path, buf, (size_t)n, 0644);
	}
	return 0;
}
