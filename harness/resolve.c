/* resolve.c — turns `up`/`template` options into a full guest configuration (emulator, assets,
 * accelerator, kernel). */
#include "resolve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "assets.h"
#include "image.h"
#include "util.h"
#include "vmm.h"

int mc_find_in_path(const char *prog, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, cap, "%s/%s", d, prog);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int mc_up_resolve(const struct mc_up_opts *o, struct mc_ctl_config *cfg, char *err, size_t errlen)
{
	struct mc_assets a;

	if (mc_find_in_path("qemu-system-x86_64", cfg->qemu, sizeof(cfg->qemu)) < 0) {
		snprintf(err, errlen,
		         "no QEMU: qemu-system-x86_64 is not in PATH (install it with "
		         "scripts/setup.sh or apt-get install qemu-system-x86)");
		return -ENOENT;
	}
	if (mc_assets_load(mc_assets_cache_dir(), &a, err, errlen) < 0)
		return -ENOENT;
	/* Accelerator: KVM only when a probe boot reaches the agent. */
	if (mc_accel_choose(o->accel, cfg->qemu, &a, mc_assets_cache_dir(), cfg->accel,
	                    cfg->accel_why, sizeof(cfg->accel_why)) < 0) {
		snprintf(err, errlen, "no usable accelerator: %s", cfg->accel_why);
		return -ENODEV;
	}
	if (strcmp(o->kernel, "cloud") == 0) {
		if (!a.cloud_kernel[0] || access(a.cloud_kernel, R_OK) < 0) {
			snprintf(err, errlen,
			         "--kernel cloud: Debian's cloud kernel is not installed "
			         "(apt-get install linux-image-cloud-amd64)");
			return -ENOENT;
		}
		snprintf(cfg->kernel, sizeof(cfg->kernel), "%s", a.cloud_kernel);
		snprintf(cfg->kernel_kind, sizeof(cfg->kernel_kind), "debian-cloud");
		snprintf(cfg->machine, sizeof(cfg->machine), "%s", a.cloud_machine);
	} else if (strchr(o->kernel, '/')) {
		/* A kernel of the researcher's own, booted like the project kernel. */
		snprintf(cfg->kernel, sizeof(cfg->kernel), "%s", o->kernel);
		snprintf(cfg->kernel_kind, sizeof(cfg->kernel_kind), "custom");
		snprintf(cfg->machine, sizeof(cfg->machine), "%s", a.kernel_machine);
	} else {
		snprintf(cfg->kernel, sizeof(cfg->kernel), "%s", a.kernel);
		snprintf(cfg->kernel_kind, sizeof(cfg->kernel_kind), "%s", a.kernel_kind);
		snprintf(cfg->machine, sizeof(cfg->machine), "%s", a.kernel_machine);
	}
	if (mc_accel_cmdline(cfg->accel, mc_host_tsc_khz(), cfg->cmdline, sizeof(cfg->cmdline))) {
		snprintf(err, errlen, "kernel command line too long");
		return -ENOSPC;
	}
	snprintf(cfg->initrd, sizeof(cfg->initrd), "%s", a.initrd);
	if (o->image[0]) {
		int r = mc_image_resolve(mc_assets_cache_dir(), o->image, cfg->base_image,
		                         sizeof(cfg->base_image), err, errlen);

		if (r < 0)
			return r;
	} else {
		snprintf(cfg->base_image, sizeof(cfg->base_image), "%s", a.base_image);
	}
	snprintf(cfg->cache_dir, sizeof(cfg->cache_dir), "%s", mc_assets_cache_dir());
	cfg->mem_mib = o->mem_mib;
	cfg->vcpus = o->vcpus;
	cfg->tb_mib = o->tb_mib;
	cfg->clone = o->clone;
	cfg->density = o->density;
	snprintf(cfg->share, sizeof(cfg->share), "%s", o->share);
	snprintf(cfg->events, sizeof(cfg->events), "%s", o->events);
	return 0;
}

void mc_up_template_spec(const struct mc_ctl_config *cfg, struct mc_template_spec *ts)
{
	memset(ts, 0, sizeof(*ts));
	ts->ops = &mc_vmm_qemu_ops;
	ts->qemu = cfg->qemu;
	ts->machine = cfg->machine;
	ts->accel = cfg->accel;
	ts->kernel = cfg->kernel;
	ts->initrd = cfg->initrd;
	ts->cmdline = cfg->cmdline;
	ts->base_image = cfg->base_image;
	ts->vcpus = cfg->vcpus;
	ts->mem_mib = cfg->mem_mib;
	ts->tb_mib = cfg->tb_mib;
	ts->share = cfg->share[0] != '\0';
}
