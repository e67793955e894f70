/* image.h — named base disks: a copy of the built base disk with a researcher's own
 * programs and the shared libraries they need, written with libguestfs. */
#ifndef MC_IMAGE_H
#define MC_IMAGE_H

#include <stddef.h>

/*
 * Images live in <cache>/images/<name>/ with base.qcow2 (read-only, standalone:
 * no backing file) and image.json (where it came from, what was added). A guest
 * sees its base disk at /data: executables land in /data/opt/microcosm/bin (on
 * PATH), libraries in /data/opt/microcosm/lib (on the library path), other
 * files in /data/opt/microcosm/share.
 */
#define MC_IMAGE_NAME_MAX 63

/* Whether s is a valid image name: [A-Za-z0-9._-]{1,63}, not starting with '.'. */
int mc_image_name_ok(const char *s);

/*
 * Resolves what `up --image` was given: a name (no '/') is looked up in the
 * image store, anything else is a path to a qcow2 file. Writes the absolute
 * path of the base disk to path. Returns 0, or a negative errno with the reason
 * in err ("image 'x' not found; 'microcosm image ls' lists them").
 */
int mc_image_resolve(const char *cache_dir, const char *arg, char *path, size_t pathlen, char *err,
                     size_t errlen);

struct mc_image_add {
	const char *name;   /* new image's name */
	const char *from;   /* base disk to copy */
	char *const *files; /* host files to add; NULL-terminated */
	int force;          /* replace an image of that name */
	int force_tcg;      /* run the libguestfs appliance under TCG (no usable KVM) */
	int quiet;          /* no progress on stderr */
};

/*
 * Makes a new image: copies the base disk, computes the shared-library closure
 * of every ELF file (ldd; a library that cannot be found is an error naming
 * the file and the library), and writes the files and libraries into the copy
 * in one libguestfs appliance. Built in a temporary directory and renamed into
 * place, so a failure or an interrupt leaves no image behind. Returns 0, or a
 * negative errno with the reason in err.
 */
int mc_image_add(const char *cache_dir, const struct mc_image_add *req, char *err, size_t errlen);

/* One line per image on stdout (a header first). Returns the number listed. */
int mc_image_list(const char *cache_dir);

/* Removes image name. Returns 0, -ENOENT, or another negative errno. */
int mc_image_remove(const char *cache_dir, const char *name);

#endif
