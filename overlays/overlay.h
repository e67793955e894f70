/* overlay.h — per-guest copy-on-write qcow2 disks on a read-only base image. */
#ifndef MC_OVERLAY_H
#define MC_OVERLAY_H

/*
 * Creates path as a qcow2 overlay whose backing file is base (qcow2, never
 * written: QEMU opens the chain with the overlay writable and the base
 * read-only). Uses qemu-img. Fails with -EEXIST if path exists, -ENOENT if
 * base does not. Returns 0 or a negative errno; on failure path is absent.
 */
int mc_overlay_create(const char *base, const char *path);

/*
 * Copies the overlay blank (made once with mc_overlay_create; its backing
 * path is absolute) to path: the same empty overlay for a fraction of the
 * cost of running qemu-img per guest. Returns 0 or -errno; on failure path
 * is absent.
 */
int mc_overlay_copy(const char *blank, const char *path);

/* Removes an overlay. Returns 0 or -errno; a missing file is not an error. */
int mc_overlay_remove(const char *path);

#endif
