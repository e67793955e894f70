/* collect.c — post-mortem collection from guests' qcow2 overlays with libguestfs. */
#include "collect.h"

#include <errno.h>
#include <guestfs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#define DATA_MOUNT "/data" /* where the guest mounts its disk */

struct tally {
	json_t *errors; /* array of strings */
	unsigned long long bytes;
	unsigned files;
	int over; /* a limit was reached: stop copying */
};

static void note(struct tally *t, const char *fmt, const char *a, const char *b)
{
	char msg[PATH_MAX + 256];

	snprintf(msg, sizeof(msg), fmt, a, b ? b : "");
	json_array_append_new(t->errors, json_string(msg));
}

/* Collapses runs of '/' in place ("/out//a" -> "/out/a": libguestfs' glob and find results
 * join with one too many) and drops a trailing one. */
static void squeeze_slashes(char *p)
{
	char *w = p;

	for (char *r = p; *r; r++)
		if (!(*r == '/' && w > p && w[-1] == '/'))
			*w++ = *r;
	if (w > p + 1 && w[-1] == '/')
		w--;
	*w = '\0';
}

int mc_collect_safe_rel(const char *p)
{
	const char *s = p;

	if (!*p)
		return 0;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && !strncmp(s, "..", 2)))
			return 0;
		s += len + (e ? 1 : 0);
	}
	return 1;
}

static void free_list(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

/* Copies one regular file disk_path (absolute on the disk) under dest. */
static void copy_one(guestfs_h *g, const char *disk_path, const char *dest, struct tally *t)
{
	char local[PATH_MAX * 2], dir[PATH_MAX * 2], *slash;
	int64_t size;

	if (t->over)
		return;
	if (!mc_collect_safe_rel(disk_path + 1)) {
		note(t, "%s%s: unsafe path, skipped", DATA_MOUNT, disk_path);
		return;
	}
	if (t->files >= MC_COLLECT_MAX_FILES) {
		note(t, "more than %s files: stopped%s", "10000", NULL);
		t->over = 1;
		return;
	}
	size = guestfs_filesize(g, disk_path);
	if (size < 0) {
		note(t, "%s: %s", disk_path, guestfs_last_error(g));
		return;
	}
	if (t->bytes + (unsigned long long)size > MC_COLLECT_MAX_BYTES) {
		note(t, "%s%s: over the 256 MiB a guest may bring; stopped", DATA_MOUNT, disk_path);
		t->over = 1;
		return;
	}
	snprintf(local, sizeof(local), "%s%s%s", dest, DATA_MOUNT, disk_path);
	snprintf(dir, sizeof(dir), "%s", local);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (mc_mkdir_p(dir, 0755) < 0) {
		note(t, "%s: %s", dir, strerror(errno));
		return;
	}
	if (guestfs_download(g, disk_path, local) < 0) {
		note(t, "%s: %s", disk_path, guestfs_last_error(g));
		return;
	}
	t->files++;
	t->bytes += (unsigned long long)size;
}

/* Everything a pattern names on the mounted disk. */
static void copy_pattern(guestfs_h *g, const char *pattern, const char *dest, struct tally *t)
{
	const char *on_disk = pattern + strlen(DATA_MOUNT); /* "/out/ *.csv" */
	char **matches = guestfs_glob_expand(g, on_disk);

	if (!matches) {
		note(t, "%s: %s", pattern, guestfs_last_error(g));
		return;
	}
	if (!matches[0])
		note(t, "%s: nothing there%s", pattern, NULL);
	for (size_t i = 0; matches[i] && !t->over; i++) {
		char *m = matches[i];

		squeeze_slashes(m);
		if (guestfs_is_dir(g, m) == 1) {
			char **found = guestfs_find(g, m);

			for (size_t k = 0; found && found[k] && !t->over; k++) {
				char p[PATH_MAX * 2];

				snprintf(p, sizeof(p), "%s/%s", m, found[k]);
				squeeze_slashes(p);
				if (guestfs_is_file(g, p) == 1)
					copy_one(g, p, dest, t);
			}
			free_list(found);
		} else if (guestfs_is_file(g, m) == 1) {
			copy_one(g, m, dest, t);
		}
	}
	free_list(matches);
}

static void batch(const struct mc_collect_guest *guests, size_t n, const char *const *patterns,
                  size_t npatterns, const char *outdir, json_t *per_guest)
{
	guestfs_h *g = guestfs_create();
	char **devices = NULL;
	struct tally *t = calloc(n, sizeof(*t));

	for (size_t i = 0; i < n && t; i++)
		t[i].errors = json_array();
	if (!g || !t) {
		for (size_t i = 0; i < n; i++)
			json_object_set_new(per_guest, guests[i].name,
			                    json_pack("{s:i, s:i, s:[s]}", "files", 0, "bytes", 0,
			                              "errors", "out of memory"));
		goto out;
	}
	guestfs_set_error_handler(g, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		if (guestfs_add_drive_opts(g, guests[i].disk, GUESTFS_ADD_DRIVE_OPTS_FORMAT,
		                           "qcow2", GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0) {
			note(&t[i], "%s: %s", guests[i].disk, guestfs_last_error(g));
			/* a drive that could not be added shifts the rest: give up the batch */
			for (size_t k = 0; k < n; k++)
				if (k != i)
					note(&t[k], "not read: %s%s",
					     "another disk of its batch failed", NULL);
			goto report;
		}
	if (guestfs_launch(g) < 0 || !(devices = guestfs_list_devices(g))) {
		for (size_t i = 0; i < n; i++)
			note(&t[i], "appliance: %s%s", guestfs_last_error(g), NULL);
		goto report;
	}
	for (size_t i = 0; i < n; i++) {
		char dest[PATH_MAX + 64];

		if (!devices[i]) {
			note(&t[i], "disk %s not seen by the appliance%s", guests[i].disk, NULL);
			continue;
		}
		guestfs_umount_all(g);
		if (guestfs_mount_ro(g, devices[i], "/") < 0) {
			note(&t[i], "mount %s: %s", guests[i].disk, guestfs_last_error(g));
			continue;
		}
		snprintf(dest, sizeof(dest), "%s/%s/files", outdir, guests[i].name);
		for (size_t p = 0; p < npatterns && !t[i].over; p++)
			copy_pattern(g, patterns[p], dest, &t[i]);
	}
	guestfs_umount_all(g);
	guestfs_shutdown(g);
report:
	for (size_t i = 0; i < n; i++) {
		json_object_set_new(per_guest, guests[i].name,
		                    json_pack("{s:i, s:I, s:o}", "files", (int)t[i].files, "bytes",
		                              (json_int_t)t[i].bytes, "errors", t[i].errors));
		t[i].errors = NULL;
	}
out:
	free_list(devices);
	for (size_t i = 0; t && i < n; i++)
		json_decref(t[i].errors);
	free(t);
	if (g)
		guestfs_close(g);
}

int mc_collect_files(const struct mc_collect_guest *guests, size_t n, const char *const *patterns,
                     size_t npatterns, const char *outdir, const char *accel, json_t **report,
                     char *err, size_t errlen)
{
	json_t *per_guest = json_object(), *g;
	unsigned long long bytes = 0;
	struct timespec t0, t1;
	const char *name;
	int files = 0, read_any = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!per_guest) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < npatterns; i++)
		if (strncmp(patterns[i], DATA_MOUNT "/", strlen(DATA_MOUNT) + 1) != 0) {
			snprintf(err, errlen, "%s: not under %s (the guest's disk)", patterns[i],
			         DATA_MOUNT);
			json_decref(per_guest);
			return -1;
		}
	if (!accel || strcmp(accel, "kvm") != 0)
		setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 0);
	setenv("LIBGUESTFS_BACKEND", "direct", 0);
	for (size_t i = 0; i < n; i += MC_COLLECT_BATCH)
		batch(guests + i, n - i < MC_COLLECT_BATCH ? n - i : MC_COLLECT_BATCH, patterns,
		      npatterns, outdir, per_guest);
	json_object_foreach(per_guest, name, g)
	{
		json_t *errs = json_object_get(g, "errors");
		size_t k;
		json_t *e;
		int appliance_failed = 0;

		files += (int)json_integer_value(json_object_get(g, "files"));
		bytes += (unsigned long long)json_integer_value(json_object_get(g, "bytes"));
		json_array_foreach(errs, k,
		                   e) if (!strncmp(json_string_value(e), "appliance: ", 11))
		        appliance_failed = 1;
		if (!appliance_failed)
			read_any = 1;
		else if (!read_any)
			snprintf(err, errlen, "%s", json_string_value(json_array_get(errs, 0)));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (report)
		*report = json_pack("{s:o, s:i, s:I, s:f}", "guests", per_guest, "files", files,
		                    "bytes", (json_int_t)bytes, "seconds",
		                    (double)(t1.tv_sec - t0.tv_sec) +
		                            (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	else
		json_decref(per_guest);
	return n && !read_any ? -1 : 0;
}
