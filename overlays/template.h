/* template.h — booted memory templates: boot one guest, save it, clone many from it. */
#ifndef MC_TEMPLATE_H
#define MC_TEMPLATE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

/*
 * A template is a guest booted once with its RAM in a file (share=on), left
 * idle with the agent waiting for an identity, then stopped and saved with
 * migration capability x-ignore-shared (the state file holds device state
 * only, ≈50 KB). A clone maps the same file private and copy-on-write
 * (share=off), restores the state, and its agent picks up the clone's own
 * fw_cfg identity. Templates live in <cache>/templates/<key>/ and are reused
 * while every input of the key is unchanged.
 */

#define MC_IDENTITY_SIZE                                                                           \
	1024 /* bytes: every identity file is padded to this size, so a                            \
	        template's fw_cfg entry covers any clone's identity */

/* What a template is made of; everything here goes into its key. */
struct mc_template_spec {
	const struct mc_vmm_ops *ops; /* back end that boots it */
	const char *qemu;             /* emulator binary */
	const char *machine;          /* -M value */
	const char *accel;            /* "kvm" or "tcg" */
	const char *kernel;           /* kernel image */
	const char *initrd;           /* initramfs (holds the agent) */
	const char *cmdline;          /* kernel command line */
	const char *base_image;       /* base disk the clones' overlays sit on */
	unsigned vcpus;               /* vCPUs */
	uint64_t mem_mib;             /* guest RAM, MiB */
	unsigned tb_mib;              /* TCG translation buffer, MiB */
	int share;                    /* has the /share export device (virtio-9p) */
};

struct mc_template {
	char key[17];               /* 16 hex digits */
	char dir[PATH_MAX];         /* <cache>/templates/<key> */
	char memory[PATH_MAX];      /* the RAM file clones map */
	char state[PATH_MAX];       /* the saved device state */
	char stub_kernel[PATH_MAX]; /* stand-in kernel clones start with */
	uint64_t mem_mib;           /* guest RAM, MiB */
	int64_t build_ms;           /* how long building it took */
	int64_t built_at;           /* Unix time it was built */
};

/* Computes the key of spec (inputs' names, sizes and mtimes, and every
 * setting). Returns 0 or -errno when an input file is missing. */
int mc_template_key(const struct mc_template_spec *spec, char key[17]);

/* Fills *t for an existing, complete template. Returns 0 or -ENOENT. */
int mc_template_lookup(const char *cache_dir, const char *key, struct mc_template *t);

/*
 * Boots and saves a template for spec (blocking; ≈2-5 s under TCG), prints
 * progress to stderr unless quiet. Builds in a temporary directory and
 * renames it into place, so an interrupted build leaves nothing that looks
 * complete. Returns 0 and fills *t, or a negative errno with the reason in
 * err (errlen bytes).
 */
int mc_template_build(const char *cache_dir, const struct mc_template_spec *spec,
                      struct mc_template *t, int quiet, char *err, size_t errlen);

/* Looks the template up and builds it if missing. *built says which. */
int mc_template_ensure(const char *cache_dir, const struct mc_template_spec *spec,
                       struct mc_template *t, int *built, int quiet, char *err, size_t errlen);

/*
 * Writes a stand-in kernel for clones to path: a minimal ELF64 with the PVH
 * entry note, so QEMU registers the same fw_cfg files as for the template
 * (the identity keeps its selector) but keeps ≈1 KB instead of the whole
 * kernel and initramfs in every clone's heap. Clones never run it: their
 * RAM is the template's. Returns 0 or -errno.
 */
int mc_template_write_stub_kernel(const char *path);

/* Calls fn for every complete template under cache_dir. Returns the count. */
int mc_template_list(const char *cache_dir, void (*fn)(void *arg, const struct mc_template *t),
                     void *arg);

/* Removes template key (running clones keep their mapping). Returns 0 or -errno. */
int mc_template_remove(const char *cache_dir, const char *key);

/* Writes identity text to path padded with newlines to MC_IDENTITY_SIZE
 * bytes (atomically). Returns 0, -E2BIG if text is too long, or -errno. */
int mc_identity_write(const char *path, const char *text);

#endif
