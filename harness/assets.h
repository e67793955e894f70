/* assets.h — the guest assets (kernel, initramfs, base image) built by guests/build-assets.sh. */
#ifndef MC_ASSETS_H
#define MC_ASSETS_H

#include <limits.h>
#include <stddef.h>

struct mc_assets {
	char kernel[PATH_MAX];       /* the kernel guests boot */
	char kernel_kind[32];        /* "project" or "debian-cloud" */
	char kernel_release[64];     /* e.g. "6.1.158" */
	char kernel_machine[64];     /* QEMU -M value the kernel needs, e.g. "microvm,acpi=off" */
	char cloud_machine[64];      /* the same for the cloud kernel */
	char cloud_kernel[PATH_MAX]; /* Debian's cloud kernel, for comparisons ("" if none) */
	char initrd[PATH_MAX];       /* initramfs with busybox and the agent */
	char base_image[PATH_MAX];   /* read-only qcow2 base disk */
	char hash[160];              /* identifies this asset set */
};

/* Default cache directory: $MC_CACHE_DIR or /var/cache/microcosm. */
const char *mc_assets_cache_dir(void);

/*
 * Reads <cache_dir>/assets.env into *a and checks every file exists.
 * Returns 0, or -ENOENT with a message (naming the file and how to build
 * it) written into err (size errlen).
 */
int mc_assets_load(const char *cache_dir, struct mc_assets *a, char *err, size_t errlen);

#endif
