/* image.c — named base disks made from the built one plus a researcher's files (libguestfs). */
#include "image.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <guestfs.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

#define GUEST_ROOT  "/opt/microcosm" /* on the base disk; the guest mounts the disk on /data */
#define MAX_ENTRIES 1024             /* files + libraries in one image add */

int mc_image_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MC_IMAGE_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

int mc_image_resolve(const char *cache_dir, const char *arg, char *path, size_t pathlen, char *err,
                     size_t errlen)
{
	char buf[PATH_MAX];
	struct stat st;

	if (strchr(arg, '/')) {
		if (!realpath(arg, buf)) {
			snprintf(err, errlen, "image %s: %s", arg, strerror(errno));
			return -ENOENT;
		}
	} else {
		if (!mc_image_name_ok(arg)) {
			snprintf(err, errlen,
			         "image '%s': not a name ([A-Za-z0-9._-], at most %d) nor a path",
			         arg, MC_IMAGE_NAME_MAX);
			return -EINVAL;
		}
		snprintf(buf, sizeof(buf), "%s/images/%s/base.qcow2", cache_dir, arg);
		if (access(buf, F_OK) < 0) {
			snprintf(err, errlen,
			         "image '%s' not found ('microcosm image ls' lists them)", arg);
			return -ENOENT;
		}
	}
	if (stat(buf, &st) < 0 || !S_ISREG(st.st_mode) || access(buf, R_OK) < 0) {
		snprintf(err, errlen, "image %s: not a readable file", buf);
		return -EINVAL;
	}
	if (strlen(buf) >= pathlen) {
		snprintf(err, errlen, "image %s: path too long", buf);
		return -ENAMETOOLONG;
	}
	memcpy(path, buf, strlen(buf) + 1);
	return 0;
}

/* ---- what goes into the image ---- */

struct entry {
	char host[PATH_MAX];  /* file read on the host */
	char guest[PATH_MAX]; /* where it lands on the disk */
	int mode;
	int library; /* from a closure, not named by the user */
};

struct plan {
	struct entry *e;
	size_t n;
};

static int plan_has(const struct plan *p, const char *guest)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->e[i].guest, guest) == 0)
			return 1;
	return 0;
}

static int plan_add(struct plan *p, const char *host, const char *dir, const char *base, int mode,
                    int library, char *err, size_t errlen)
{
	struct entry *e;

	if (p->n >= MAX_ENTRIES) {
		snprintf(err, errlen, "more than %d files and libraries", MAX_ENTRIES);
		return -E2BIG;
	}
	e = &p->e[p->n];
	if ((size_t)snprintf(e->host, sizeof(e->host), "%s", host) >= sizeof(e->host) ||
	    (size_t)snprintf(e->guest, sizeof(e->guest), "%s/%s/%s", GUEST_ROOT, dir, base) >=
	            sizeof(e->guest)) {
		snprintf(err, errlen, "%s: path too long", host);
		return -ENAMETOOLONG;
	}
	if (plan_has(p, e->guest))
		return 0; /* a library two programs need, or a file named twice */
	e->mode = mode;
	e->library = library;
	p->n++;
	return 0;
}

/* Whether name looks like a shared library: "*.so" or "*.so.<digits...>". */
static int is_library_name(const char *name)
{
	const char *s = strstr(name, ".so");

	while (s) {
		if (s[3] == '\0' || s[3] == '.')
			return 1;
		s = strstr(s + 1, ".so");
	}
	return 0;
}

/* Runs ldd on path and captures its output (NUL-terminated, *out malloc'd). */
static int run_ldd(const char *path, char **out, int *status)
{
	char *const argv[] = {"ldd", (char *)path, NULL};
	posix_spawn_file_actions_t fa;
	size_t cap = 8192, len = 0;
	int p[2], err, st;
	char *buf;
	pid_t pid;
	ssize_t r;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	err = posix_spawnp(&pid, "ldd", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		close(p[0]);
		return -err;
	}
	buf = malloc(cap);
	while (buf && (r = read(p[0], buf + len, cap - len - 1)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += (size_t)r;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!buf)
		return -ENOMEM;
	buf[len] = '\0';
	*out = buf;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	return 0;
}

/*
 * Adds the shared libraries path needs (ldd's "name => /path" lines) to the
 * plan. The dynamic loader is left out: the guest's own root file system has
 * it. A library ldd cannot find is an error naming both.
 */
static int add_closure(struct plan *p, const char *path, char *err, size_t errlen)
{
	char *out = NULL, *line, *save = NULL;
	int st = 0, r;

	if ((r = run_ldd(path, &out, &st)) < 0) {
		snprintf(err, errlen, "ldd %s: %s (is libc-bin installed?)", path, strerror(-r));
		return r;
	}
	if (st != 0) {
		r = strstr(out, "not a dynamic executable") || strstr(out, "statically linked")
		            ? 0
		            : -EINVAL;
		if (r)
			snprintf(err, errlen, "ldd %s failed: %.200s", path, out);
		free(out);
		return r;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[256], lib[PATH_MAX], real[PATH_MAX];

		if (strstr(line, "=> not found")) {
			if (sscanf(line, " %255s", name) != 1)
				snprintf(name, sizeof(name), "?");
			snprintf(
			        err, errlen,
			        "%s needs %s, which is not found on this host (set LD_LIBRARY_PATH "
			        "or add the library file too)",
			        path, name);
			free(out);
			return -ENOENT;
		}
		/* "name => path (0x...)"; a relative path comes from a relative
		 * LD_LIBRARY_PATH entry and is resolved against the current directory. */
		if (sscanf(line, " %255s => %4095s", name, lib) != 2 || lib[0] == '(')
			continue;
		if (!realpath(lib, real)) {
			snprintf(err, errlen, "%s: library %s: %s", path, lib, strerror(errno));
			free(out);
			return -errno;
		}
		if ((r = plan_add(p, real, "lib", name, 0644, 1, err, errlen)) < 0) {
			free(out);
			return r;
		}
	}
	free(out);
	return 0;
}

static int make_plan(const struct mc_image_add *req, struct plan *p, char *err, size_t errlen)
{
	int r;

	for (size_t i = 0; req->files[i]; i++) {
		const char *f = req->files[i], *base;
		char real[PATH_MAX];
		struct stat st;
		int elf;

		if (!realpath(f, real) || stat(real, &st) < 0) {
			snprintf(err, errlen, "%s: %s", f, strerror(errno));
			return -ENOENT;
		}
		if (!S_ISREG(st.st_mode) || access(real, R_OK) < 0) {
			snprintf(err, errlen, "%s: not a readable regular file", f);
			return -EINVAL;
		}
		base = strrchr(f, '/') ? strrchr(f, '/') + 1 : f;
		elf = mc_file_is_elf(real) == 1;
		if (is_library_name(base))
			r = plan_add(p, real, "lib", base, 0644, 0, err, errlen);
		else if (st.st_mode & 0111)
			r = plan_add(p, real, "bin", base, 0755, 0, err, errlen);
		else
			r = plan_add(p, real, "share", base, 0644, 0, err, errlen);
		if (r < 0 || (elf && (r = add_closure(p, real, err, errlen)) < 0))
			return r;
	}
	return 0;
}

/* ---- the copy ---- */

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out, err = 0;
	struct stat st;
	off_t left;

	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0 ||
	    (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		err = -errno;
		close(in);
		return err;
	}
	for (left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		left -= n;
	}
	if (!err && fsync(out) < 0)
		err = -errno;
	close(in);
	close(out);
	return err;
}

static int guestfs_fail(guestfs_h *g, const char *what, char *err, size_t errlen)
{
	const char *e = guestfs_last_error(g);

	snprintf(err, errlen, "libguestfs: %s: %s", what, e ? e : "failed");
	return -EIO;
}

static int write_files(const char *disk, const struct plan *p, int quiet, char *err, size_t errlen)
{
	static const char *const dirs[] = {GUEST_ROOT "/bin", GUEST_ROOT "/lib",
	                                   GUEST_ROOT "/share"};
	guestfs_h *g = guestfs_create();
	int64_t t0 = mc_now_ms();
	size_t same = 0;
	int rc = 0;

	if (!g) {
		snprintf(err, errlen, "libguestfs: cannot create a handle");
		return -ENOMEM;
	}
	if (quiet)
		guestfs_set_trace(g, 0);
	if (guestfs_add_drive_opts(g, disk, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2", -1) < 0) {
		rc = guestfs_fail(g, "add the disk", err, errlen);
		goto out;
	}
	if (!quiet)
		fprintf(stderr,
		        "image: starting the libguestfs appliance (about 10-20 s under TCG)...\n");
	if (guestfs_launch(g) < 0) {
		rc = guestfs_fail(g, "launch the appliance", err, errlen);
		goto out;
	}
	/* The base disk is one ext4 file system on the whole device. */
	if (guestfs_mount(g, "/dev/sda", "/") < 0) {
		rc = guestfs_fail(g, "mount the base disk", err, errlen);
		goto out;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (guestfs_mkdir_p(g, dirs[i]) < 0) {
			rc = guestfs_fail(g, dirs[i], err, errlen);
			goto out;
		}
	for (size_t i = 0; i < p->n; i++) {
		struct stat st;

		/* A library the runtime already carries (MPICH's, libc) stays as it
		 * is: the same file from the same host, and the copy stays small. */
		if (p->e[i].library && stat(p->e[i].host, &st) == 0 &&
		    guestfs_is_file(g, p->e[i].guest) == 1 &&
		    guestfs_filesize(g, p->e[i].guest) == (int64_t)st.st_size) {
			same++;
			continue;
		}
		if (guestfs_upload(g, p->e[i].host, p->e[i].guest) < 0 ||
		    guestfs_chmod(g, p->e[i].mode, p->e[i].guest) < 0) {
			char what[PATH_MAX + 16];

			snprintf(what, sizeof(what), "write %s", p->e[i].guest);
			rc = guestfs_fail(g, what, err, errlen);
			goto out;
		}
	}
	if (guestfs_umount_all(g) < 0 || guestfs_shutdown(g) < 0) {
		rc = guestfs_fail(g, "close the disk", err, errlen);
		goto out;
	}
	if (!quiet)
		fprintf(stderr,
		        "image: wrote %zu files (%zu libraries were already there) in %.1f s\n",
		        p->n - same, same, (double)(mc_now_ms() - t0) / 1000.0);
out:
	guestfs_close(g);
	return rc;
}

static int write_info(const char *path, const struct mc_image_add *req, const struct plan *p)
{
	json_t *root = json_object(), *files = json_array(), *libs = json_array();
	char when[32] = "?";
	time_t now = time(NULL);
	struct tm tm;
	char *text;
	int rc;

	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (size_t i = 0; i < p->n; i++) {
		char seen[PATH_MAX + 8];
		json_t *o;

		snprintf(seen, sizeof(seen), "/data%s", p->e[i].guest); /* the path a guest sees */
		o = json_pack("{s:s, s:s}", "host", p->e[i].host, "guest", seen);

		json_array_append_new(p->e[i].library ? libs : files, o);
	}
	json_object_set_new(root, "name", json_string(req->name));
	json_object_set_new(root, "from", json_string(req->from));
	json_object_set_new(root, "created", json_string(when));
	json_object_set_new(root, "guest_root", json_string("/data" GUEST_ROOT));
	json_object_set_new(root, "files", files);
	json_object_set_new(root, "libraries", libs);
	text = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	if (!text)
		return -ENOMEM;
	rc = mc_write_file_atomic(path, text, strlen(text), 0644);
	free(text);
	return rc;
}

static volatile sig_atomic_t add_interrupted;

static void on_add_signal(int sig)
{
	(void)sig;
	add_interrupted = 1;
}

int mc_image_add(const char *cache_dir, const struct mc_image_add *req, char *err, size_t errlen)
{
	char root[PATH_MAX], tmp[PATH_MAX + 64], final[PATH_MAX + 64], disk[PATH_MAX + 80],
	        info[PATH_MAX + 80];
	struct plan p = {0};
	struct sigaction sa = {.sa_handler = on_add_signal}, old_int, old_term;
	int rc, nlib = 0;

	if (!mc_image_name_ok(req->name)) {
		snprintf(err, errlen,
		         "image name '%s': want [A-Za-z0-9._-], at most %d, not starting "
		         "with '.'",
		         req->name, MC_IMAGE_NAME_MAX);
		return -EINVAL;
	}
	if (!req->files || !req->files[0]) {
		snprintf(err, errlen, "no files to add");
		return -EINVAL;
	}
	snprintf(root, sizeof(root), "%s/images", cache_dir);
	snprintf(final, sizeof(final), "%s/%s", root, req->name);
	if (access(final, F_OK) == 0 && !req->force) {
		snprintf(err, errlen, "image '%s' exists (%s); --force replaces it", req->name,
		         final);
		return -EEXIST;
	}
	if (!(p.e = calloc(MAX_ENTRIES, sizeof(*p.e)))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* Everything is checked before anything is written. */
	if ((rc = make_plan(req, &p, err, errlen)) < 0) {
		free(p.e);
		return rc;
	}
	for (size_t i = 0; i < p.n; i++)
		nlib += p.e[i].library;
	if ((rc = mc_mkdir_p(root, 0755)) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", root, strerror(-rc));
		free(p.e);
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s/.add-%s-XXXXXX", root, req->name);
	if (!mkdtemp(tmp)) {
		rc = -errno;
		snprintf(err, errlen, "mkdtemp %s: %s", tmp, strerror(errno));
		free(p.e);
		return rc;
	}
	/* Ctrl-C between here and the rename leaves no half-made image. */
	add_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	snprintf(disk, sizeof(disk), "%s/base.qcow2", tmp);
	snprintf(info, sizeof(info), "%s/image.json", tmp);
	if (!req->quiet)
		fprintf(stderr, "image: %s: %zu files and %d libraries onto a copy of %s\n",
		        req->name, p.n - (size_t)nlib, nlib, req->from);
	if ((rc = copy_file(req->from, disk)) < 0) {
		snprintf(err, errlen, "copy %s: %s", req->from, strerror(-rc));
		goto fail;
	}
	if (req->force_tcg && !getenv("LIBGUESTFS_BACKEND_SETTINGS"))
		setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 1);
	if (!getenv("LIBGUESTFS_BACKEND"))
		setenv("LIBGUESTFS_BACKEND", "direct", 1);
	if ((rc = write_files(disk, &p, req->quiet, err, errlen)) < 0)
		goto fail;
	if (add_interrupted) {
		snprintf(err, errlen, "interrupted");
		rc = -EINTR;
		goto fail;
	}
	if ((rc = write_info(info, req, &p)) < 0) {
		snprintf(err, errlen, "write %s: %s", info, strerror(-rc));
		goto fail;
	}
	chmod(disk, 0444);
	if (req->force)
		mc_rm_rf(final);
	if (rename(tmp, final) < 0) {
		rc = -errno;
		snprintf(err, errlen, "rename %s to %s: %s", tmp, final, strerror(errno));
		goto fail;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	free(p.e);
	return 0;
fail:
	mc_rm_rf(tmp);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	free(p.e);
	return rc;
}

int mc_image_list(const char *cache_dir)
{
	char root[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	printf("%-24s %8s %-20s %6s %5s  %s\n", "NAME", "MIB", "CREATED", "FILES", "LIBS", "PATH");
	snprintf(root, sizeof(root), "%s/images", cache_dir);
	if (!(d = opendir(root)))
		return 0;
	while ((de = readdir(d))) {
		char disk[PATH_MAX + 300], info[PATH_MAX + 300];
		json_t *j;
		struct stat st;

		if (!mc_image_name_ok(de->d_name))
			continue;
		snprintf(disk, sizeof(disk), "%s/%s/base.qcow2", root, de->d_name);
		snprintf(info, sizeof(info), "%s/%s/image.json", root, de->d_name);
		if (stat(disk, &st) < 0)
			continue;
		j = json_load_file(info, 0, NULL);
		printf("%-24s %8.1f %-20s %6zu %5zu  %s\n", de->d_name,
		       (double)st.st_blocks * 512.0 / 1048576.0,
		       j && json_string_value(json_object_get(j, "created"))
		               ? json_string_value(json_object_get(j, "created"))
		               : "?",
		       json_array_size(json_object_get(j, "files")),
		       json_array_size(json_object_get(j, "libraries")), disk);
		json_decref(j);
		n++;
	}
	closedir(d);
	return n;
}

int mc_image_remove(const char *cache_dir, const char *name)
{
	char dir[PATH_MAX + 300];

	if (!mc_image_name_ok(name))
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%s/images/%s", cache_dir, name);
	if (access(dir, F_OK) < 0)
		return -ENOENT;
	return mc_rm_rf(dir);
}
