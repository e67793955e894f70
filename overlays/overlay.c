/* overlay.c — qcow2 overlay creation through qemu-img. */
#include "overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int mc_overlay_create(const char *base, const char *path)
{
	char *const argv[] = {"qemu-img", "create", "-q",         "-f",         "qcow2", "-F",
	                      "qcow2",    "-b",     (char *)base, (char *)path, NULL};
	posix_spawn_file_actions_t fa;
	struct stat st;
	pid_t pid;
	int status, err;

	if (stat(base, &st) < 0)
		return -errno;
	if (lstat(path, &st) == 0)
		return -EEXIST;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(path);
		return -EIO;
	}
	return 0;
}

int mc_overlay_copy(const char *blank, const char *path)
{
	struct stat st;
	int in, out, err = 0;

	in = open(blank, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) < 0) {
		err = -errno;
		close(in);
		return err;
	}
	out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		err = -errno;
		close(in);
		return err;
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
		left -= n;
	}
	close(in);
	if (close(out) < 0 && !err)
		err = -errno;
	if (err)
		unlink(path);
	return err;
}

int mc_overlay_remove(const char *path)
{
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
