/* collect.h — post-mortem collection: files the workloads left on the guests' disks,
 * read from their qcow2 overlays (read-only, libguestfs) into the run directory. */
#ifndef MC_COLLECT_H
#define MC_COLLECT_H

#include <jansson.h>
#include <stddef.h>

/* Guests per libguestfs appliance: one appliance reads many overlays. */
#define MC_COLLECT_BATCH 64
/* What one guest may contribute (guests are untrusted). */
#define MC_COLLECT_MAX_BYTES (256ull << 20)
#define MC_COLLECT_MAX_FILES 10000

struct mc_collect_guest {
	const char *name; /* g0003: files land in outdir/g0003/files/ */
	const char *disk; /* its qcow2 overlay */
};

/*
 * Copies, from each guest's disk, the regular files matching patterns (guest paths under
 * /data, the disk's mount point in the guest; globs allowed; a directory brings
 * everything under it) to outdir/<guest>/files/<guest path>. Opens the overlays
 * read-only, a running guest's too, MC_COLLECT_BATCH to an appliance. A guest whose disk
 * cannot be read (or that exceeds the limits) gets an error in the report, the others
 * go on. *report (when not NULL) gets {"guests": {name: {files, bytes, errors: []}},
 * "files", "bytes", "seconds"}. Returns 0, or -1 with err set when no appliance could
 * start at all. `accel` "kvm" lets the appliance use KVM; anything else forces TCG.
 */
int mc_collect_files(const struct mc_collect_guest *guests, size_t n, const char *const *patterns,
                     size_t npatterns, const char *outdir, const char *accel, json_t **report,
                     char *err, size_t errlen);

/* A guest's path (relative, no empty, "." or ".." parts) is safe to place under a host
 * folder: 1, else 0. */
int mc_collect_safe_rel(const char *p);

#endif
