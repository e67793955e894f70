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

int mc_overlay_remove(const char *path)
{
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}
