/* assets.c — reads the asset manifest written by guests/build-assets.sh. */
#include "assets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *mc_assets_cache_dir(void)
{
	const char *d = getenv("MC_CACHE_DIR");

	return d && *d ? d : "/var/cache/microcosm";
}

static void copy_value(char *dst, size_t cap, const char *v)
{
	snprintf(dst, cap, "%s", v);
}

int mc_assets_load(const char *cache_dir, struct mc_assets *a, char *err, size_t errlen)
{
	char path[PATH_MAX], line[PATH_MAX + 64];
	FILE *fp;
	struct {
		const char *key;
		char *dst;
		size_t cap;
		int is_file;
	} keys[] = {
	        {"MC_KERNEL", a->kernel, sizeof(a->kernel), 1},
	        {"MC_KERNEL_KIND", a->kernel_kind, sizeof(a->kernel_kind), 0},
	        {"MC_KERNEL_RELEASE", a->kernel_release, sizeof(a->kernel_release), 0},
	        {"MC_CLOUD_KERNEL", a->cloud_kernel, sizeof(a->cloud_kernel), 0},
	        {"MC_KERNEL_MACHINE", a->kernel_machine, sizeof(a->kernel_machine), 0},
	        {"MC_CLOUD_KERNEL_MACHINE", a->cloud_machine, sizeof(a->cloud_machine), 0},
	        {"MC_INITRD", a->initrd, sizeof(a->initrd), 1},
	        {"MC_BASE_IMAGE", a->base_image, sizeof(a->base_image), 1},
	        {"MC_ASSETS_HASH", a->hash, sizeof(a->hash), 0},
	};

	memset(a, 0, sizeof(*a));
	snprintf(path, sizeof(path), "%s/assets.env", cache_dir);
	fp = fopen(path, "re");
	if (!fp) {
		snprintf(err, errlen,
		         "guest assets: %s: %s (build them with guests/build-assets.sh or "
		         "scripts/setup.sh)",
		         path, strerror(errno));
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *eq = strchr(line, '='), *nl;

		if (!eq || line[0] == '#')
			continue;
		*eq = '\0';
		if ((nl = strchr(eq + 1, '\n')))
			*nl = '\0';
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(line, keys[i].key) == 0)
				copy_value(keys[i].dst, keys[i].cap, eq + 1);
	}
	fclose(fp);
	/* Debian's cloud kernel finds virtio-mmio and fw_cfg only in ACPI tables. */
	if (!a->kernel_machine[0])
		snprintf(a->kernel_machine, sizeof(a->kernel_machine), "%s",
		         strcmp(a->kernel_kind, "project") == 0 ? "microvm,acpi=off" : "microvm");
	if (!a->cloud_machine[0])
		snprintf(a->cloud_machine, sizeof(a->cloud_machine), "microvm");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!keys[i].is_file)
			continue;
		if (!keys[i].dst[0] || access(keys[i].dst, R_OK) < 0) {
			snprintf(err, errlen,
			         "guest assets: %s: %s names '%s', which is missing (rebuild with "
			         "guests/build-assets.sh)",
			         path, keys[i].key, keys[i].dst);
			return -ENOENT;
		}
	}
	return 0;
}
