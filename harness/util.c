/* util.c — clocks, atomic files, recursive mkdir/rm, parsers and host facts. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/klog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void mc_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int mc_exec_python(const char *who, const char *python, const char *env_var,
                   const char *default_dir, const char *script, char *const args[])
{
	const char *dir = getenv(env_var);
	char path[PATH_MAX], *argv[20];
	int n = 0;

	if (!dir || !dir[0])
		dir = default_dir;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, script) >= sizeof(path)) {
		fprintf(stderr, "%s: script folder %s: path too long\n", who, dir);
		return 1;
	}
	if (access(path, R_OK) < 0) {
		fprintf(stderr, "%s: script %s: %s (set %s to the folder holding %s)\n", who, path,
		        strerror(errno), env_var, script);
		return 1;
	}
	argv[n++] = "python3";
	argv[n++] = path;
	for (size_t i = 0; args && args[i] && n < 19; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(NULL);
	execv(python, argv);
	fprintf(stderr, "%s: exec %s: %s (install python3)\n", who, python, strerror(errno));
	return 1;
}

int mc_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int mc_opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	size_t len = strlen(name);

	if (strncmp(a, name, len))
		return 0;
	if (a[len] == '=') {
		*val = a + len + 1;
		return 1;
	}
	if (a[len])
		return 0;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return 1;
}

int64_t mc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mc_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mc_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	char tmp[4096];
	const char *p = data;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int mc_read_file(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= max) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			close(fd);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int mc_mkdir_p(const char *path, int mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int mc_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int mc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int mc_parse_mib(const char *s, uint64_t *mib)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'M' || *end == 'm')
		end++;
	else if (*end == 'G' || *end == 'g') {
		mul = 1024;
		end++;
	}
	if (*end == 'i' && end[-1] != end[0])
		end++;
	if (*end == 'B')
		end++;
	if (*end || v == 0 || v > (1ull << 30) / mul)
		return -EINVAL;
	*mib = v * mul;
	return 0;
}

int mc_parse_duration_ms(const char *s, uint64_t *ms)
{
	char *end;
	unsigned long long v;
	uint64_t mul;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == '\0' || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return -EINVAL;
	if (v > UINT64_MAX / mul / 2)
		return -EINVAL;
	*ms = v * mul;
	return 0;
}

uint64_t mc_host_mem_available_mib(void)
{
	FILE *fp = fopen("/proc/meminfo", "re");
	char line[256];
	uint64_t kib = 0;

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1)
			break;
	}
	fclose(fp);
	return kib / 1024;
}

int mc_host_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

uint64_t mc_host_tsc_khz(void)
{
	char *buf = NULL, *p;
	uint64_t khz = 0;
	int len;

	if (mc_read_file("/sys/devices/system/cpu/cpu0/tsc_freq_khz", 64, &buf, NULL) == 0) {
		khz = strtoull(buf, NULL, 10);
		free(buf);
		if (khz)
			return khz;
	}
	/* The kernel's own calibration line: "tsc: Detected 2600.000 MHz processor". */
	len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (len > 0 && (buf = malloc((size_t)len + 1))) {
		len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, len);
		if (len > 0) {
			buf[len] = '\0';
			p = strstr(buf, "tsc: Detected ");
			if (p) {
				double mhz = strtod(p + strlen("tsc: Detected "), NULL);

				khz = (uint64_t)(mhz * 1000.0 + 0.5);
			}
		}
		free(buf);
		if (khz)
			return khz;
	}
	FILE *fp = fopen("/proc/cpuinfo", "re");
	char line[256];
	double mhz = 0;

	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	fclose(fp);
	return (uint64_t)(mhz * 1000.0 + 0.5);
}

int mc_write_string(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int mc_file_is_elf(const char *path)
{
	unsigned char m[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = read(fd, m, 4) == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
	close(fd);
	return ok;
}

int mc_pid_alive(int pid)
{
	if (pid <= 0)
		return 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}

int mc_loop_fds(int *sigfd, int *epfd)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	*sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	*epfd = epoll_create1(EPOLL_CLOEXEC);
	return *sigfd < 0 || *epfd < 0 ? -1 : 0;
}
