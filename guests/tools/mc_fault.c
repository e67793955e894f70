/* mc_fault.c — `mc-fault`: fault injection inside a guest, one subcommand per kind.
 *
 * The controller runs it through the guest's agent for the kinds carried out inside the
 * guest (MC_FAULT_GUEST in harness/fault.c). Each subcommand prints exactly one JSON line
 * on stdout saying what it did and exits 0; on failure it says what failed on stderr and
 * exits 2 (bad usage), 3 (nothing matched) or 1 (anything else).
 *
 * Faults that last (fill-memory, and clock-drift or disk-full with --for) leave a holder:
 * a detached process (double fork, own session, stdio on /dev/null, so the agent sees
 * our stdout close at once) that reverts the fault after the duration or on SIGTERM
 * (`mc-fault release --pid PID`). The holder reports to the caller through a pipe
 * before the JSON line is printed, so the line carries its pid.
 *
 * Only libc: the binary goes into the guests' base disk with its ldd closure. The
 * functions named mc__fault_* are internal but not static: tests/unit/test_mc_fault.c
 * calls them (built with MC_FAULT_NO_MAIN).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "mc-fault"

/* Exit statuses. */
enum {
	MC_FAULT_OK = 0,
	MC_FAULT_FAIL = 1,  /* the fault could not be carried out */
	MC_FAULT_USAGE = 2, /* bad command line */
	MC_FAULT_NONE = 3,  /* nothing matched (no such process, mapping or fill file) */
};

#define MC_FAULT_FILL_NAME   ".mc-fault-fill"
#define MC_FAULT_MAX_MS      ((int64_t)1 << 42) /* longest duration accepted (~139 years) */
#define MC_FAULT_COMM_LEN    15                 /* TASK_COMM_LEN - 1 */
#define MC_FAULT_MAXFREQ_PPM 500                /* the kernel's MAXFREQ */
#define MC_FAULT_RELEASE_MS  10000              /* how long release waits for the holder to end */

/* What the command line asked for; filled by parse_args(), which does nothing else. */
struct args {
	const char *process; /* --process: comm to match */
	int sig;             /* --signal (default SIGKILL) */
	int64_t offset_ms;   /* --offset */
	int have_offset;
	long ppm; /* --ppm */
	int have_ppm;
	uint64_t for_ms; /* --for */
	int have_for;
	const char *region; /* --region: heap, stack or anon */
	uint64_t seed;      /* --seed */
	int have_seed;
	uint64_t size; /* --size, bytes */
	int have_size;
	const char *path; /* --path (default /data) */
	int undo;         /* --undo */
	long pid;         /* --pid */
	int have_pid;
	int help; /* --help */
};

/* What a holder tells its caller once, when it is ready or has failed. */
struct report {
	int32_t pid;    /* the holder */
	int32_t err;    /* 0, or the errno of what failed */
	uint64_t value; /* fill-memory: resident bytes */
	char what[200]; /* what failed, e.g. "mmap 1073741824 bytes" */
};

/* ---- Parsing (host-testable) ------------------------------------------------------------- */

/*
 * Parses a duration: digits then ms, s, m or h; a bare number is seconds (as in plans).
 * With allow_sign a leading + or - is accepted. Returns 0 with *ms set, or -EINVAL.
 */
int mc__fault_parse_duration(const char *s, int allow_sign, int64_t *ms)
{
	unsigned long long v;
	int64_t mul;
	int neg = 0;
	char *end;

	if (!s)
		return -EINVAL;
	if (allow_sign && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	if (!isdigit((unsigned char)*s))
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
	if (v > (unsigned long long)(MC_FAULT_MAX_MS / mul))
		return -EINVAL;
	*ms = (int64_t)v * mul * (neg ? -1 : 1);
	return 0;
}

/*
 * Parses a size: digits then K, M, G or T (powers of 1024; an optional "i" and "B" may
 * follow, so 64MiB and 64MB are 64M), or B for bytes. A bare number is MiB, as the
 * harness's plans take it. Returns 0 with *bytes > 0 set, or -EINVAL.
 */
int mc__fault_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	unsigned shift = 20;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v == 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'B':
		shift = 0;
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && shift) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	} else if (*end) {
		end++; /* the B of bytes */
	}
	if (*end || v > (UINT64_MAX >> 1) >> shift)
		return -EINVAL;
	*bytes = (uint64_t)v << shift;
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"IOT", SIGIOT},   {"BUS", SIGBUS},
        {"FPE", SIGFPE},   {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
        {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
        {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

/*
 * Parses a signal: a name with or without SIG (any case: KILL, SIGTERM, segv) or a
 * number 1..SIGRTMAX. Returns 0 with *sig set, or -EINVAL.
 */
int mc__fault_parse_signal(const char *s, int *sig)
{
	if (!s || !*s)
		return -EINVAL;
	if (isdigit((unsigned char)*s)) {
		char *end;
		long v;

		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || *end || v < 1 || v > SIGRTMAX)
			return -EINVAL;
		*sig = (int)v;
		return 0;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(s, signals[i].name) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	return -EINVAL;
}

/* The next number of a splitmix64 sequence; *state is the seed, then the running state. */
uint64_t mc__fault_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * Parses one /proc/PID/maps line (NUL-terminated, without its newline):
 * "start-end perms offset major:minor inode [path]". perms gets the 4 permission
 * characters and a NUL (5 bytes); *path points into line (empty when anonymous).
 * Returns 0, or -EINVAL for a malformed line.
 */
int mc__fault_maps_parse_line(const char *line, uint64_t *start, uint64_t *end, char *perms,
                              uint64_t *inode, const char **path)
{
	unsigned long long s, e, off, ino;
	unsigned maj, min;
	char p[8];
	int n = 0;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &s, &e, p, &off, &maj, &min, &ino,
	           &n) != 7 ||
	    n == 0 || strlen(p) != 4 || e <= s)
		return -EINVAL;
	line += n;
	if (*line && *line != ' ' && *line != '\t')
		return -EINVAL;
	while (*line == ' ' || *line == '\t')
		line++;
	*start = s;
	*end = e;
	memcpy(perms, p, 5);
	*inode = ino;
	*path = line;
	return 0;
}

/* Whether a mapping belongs to region (heap, stack or anon); only private writable ones. */
static int region_match(const char *region, const char *perms, uint64_t inode, const char *path)
{
	if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p')
		return 0;
	if (strcmp(region, "heap") == 0)
		return strcmp(path, "[heap]") == 0;
	if (strcmp(region, "stack") == 0)
		return strcmp(path, "[stack]") == 0;
	return inode == 0 && (path[0] == '\0' || strncmp(path, "[anon:", 6) == 0);
}

/*
 * Walks the mappings of region in maps. With pick == 0 adds their sizes to *total;
 * otherwise finds the byte at *total bytes into their concatenation (*total is then
 * below the sum), setting *addr, *start and *end. Returns the number of mappings seen.
 */
static size_t maps_walk(const char *maps, const char *region, int pick, uint64_t *total,
                        uint64_t *addr, uint64_t *start, uint64_t *end)
{
	char line[PATH_MAX + 256];
	size_t seen = 0;
	uint64_t acc = 0;

	for (const char *p = maps; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		uint64_t s, e, ino;
		const char *path;
		char perms[5];

		if (len >= sizeof(line))
			len = sizeof(line) - 1; /* a path too long to matter is cut */
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : NULL;
		if (mc__fault_maps_parse_line(line, &s, &e, perms, &ino, &path) < 0 ||
		    !region_match(region, perms, ino, path))
			continue;
		seen++;
		if (!pick) {
			acc += e - s;
		} else if (*total < acc + (e - s)) {
			*addr = s + (*total - acc);
			*start = s;
			*end = e;
			return seen;
		} else {
			acc += e - s;
		}
	}
	if (!pick)
		*total += acc;
	return seen;
}

/*
 * Chooses a byte of region ("heap", "stack" or "anon": writable private anonymous
 * mappings) in maps (the text of /proc/PID/maps). Every byte of the region's mappings
 * is equally likely: rnd modulo their total size picks it. With fallback, a missing
 * heap falls back to anon. Sets *addr, the mapping [*start, *end) and *chosen (the
 * region used; a static string). Returns 0, -ENOENT when no mapping matches, or
 * -EINVAL for an unknown region.
 */
int mc__fault_maps_choose(const char *maps, const char *region, int fallback, uint64_t rnd,
                          uint64_t *addr, uint64_t *start, uint64_t *end, const char **chosen)
{
	static const char *const regions[] = {"heap", "stack", "anon"};
	uint64_t total = 0;
	const char *r = NULL;

	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++)
		if (region && strcmp(region, regions[i]) == 0)
			r = regions[i];
	if (!r)
		return -EINVAL;
	if (maps_walk(maps, r, 0, &total, NULL, NULL, NULL) == 0 || total == 0) {
		if (!fallback || strcmp(r, "heap") != 0)
			return -ENOENT;
		r = "anon";
		total = 0;
		if (maps_walk(maps, r, 0, &total, NULL, NULL, NULL) == 0 || total == 0)
			return -ENOENT;
	}
	total = rnd % total;
	maps_walk(maps, r, 1, &total, addr, start, end);
	*chosen = r;
	return 0;
}

/* ---- Clock drift (host-testable) ----------------------------------------------------------- */

/* a / b rounded to the nearest integer, halves away from zero; b > 0. */
static long long div_round(long long a, long long b)
{
	return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

/*
 * The adjtimex values for a clock running ppm parts per million fast (negative: slow)
 * with USER_HZ user_hz. The kernel adds the two: each tick unit moves the clock by
 * 1e6 / (1e6 / user_hz) ppm (100 at USER_HZ 100, around the nominal tick of 10000 us),
 * freq adds up to +-500 ppm in units of 2^-16 ppm. |ppm| <= 500 uses freq alone; more
 * also moves tick, within the kernel's 900000/user_hz..1100000/user_hz. ppm 0 is the
 * nominal clock (tick 1000000/user_hz, freq 0). Returns 0 with *tick (us) and *freq
 * (2^-16 ppm) set, or -ERANGE when the kernel cannot make that drift, or -EINVAL for a
 * bad user_hz.
 */
int mc__fault_drift_compute(long ppm, long user_hz, long *tick, long *freq)
{
	long long nominal, t, tmin, tmax, rest; /* rest: what freq adds, in 2^-16 ppm */

	if (user_hz <= 0 || user_hz > 1000000)
		return -EINVAL;
	nominal = 1000000 / user_hz;
	tmin = 900000 / user_hz;
	tmax = 1100000 / user_hz;
	if (ppm <= -1000000 || ppm >= 1000000)
		return -ERANGE;
	t = nominal;
	if (ppm > MC_FAULT_MAXFREQ_PPM || ppm < -MC_FAULT_MAXFREQ_PPM) {
		t = nominal + div_round((long long)ppm * nominal, 1000000);
		if (t < tmin)
			t = tmin;
		if (t > tmax)
			t = tmax;
	}
	/* freq = ppm - (t - nominal) * 1e6 / nominal, in 2^-16 ppm. */
	rest = (long long)ppm * 65536 - div_round((t - nominal) * 1000000 * 65536, nominal);
	if (rest > (long long)MC_FAULT_MAXFREQ_PPM * 65536 ||
	    rest < -(long long)MC_FAULT_MAXFREQ_PPM * 65536)
		return -ERANGE;
	*tick = (long)t;
	*freq = (long)rest;
	return 0;
}

/* The range of ppm mc__fault_drift_compute() accepts at user_hz (> 0). */
static void drift_range(long user_hz, long *min, long *max)
{
	long long nominal = 1000000 / user_hz;

	/* C division truncates toward zero: up for the negative end, down for the other. */
	*min = (long)((900000 / user_hz - nominal) * 1000000 / nominal) - MC_FAULT_MAXFREQ_PPM;
	*max = (long)((1100000 / user_hz - nominal) * 1000000 / nominal) + MC_FAULT_MAXFREQ_PPM;
}

/* ---- Small helpers ------------------------------------------------------------------------- */

/* Reads a small file into buf (NUL-terminated). Returns its length, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got < len - 1) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Reads a whole file of any size. Caller owns *out (NUL-terminated); free() it. 0 or -errno. */
static int read_all(const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, got = 0;
	char *buf;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n;

		if (cap - got < 2) {
			char *nb = cap < (256u << 20) ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	return 0;
}

/* Prints s as a JSON string. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds of CLOCK_MONOTONIC_RAW: neither stepped nor slewed by adjtimex. */
static uint64_t raw_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether the comm of a process (at most 15 characters) is name, cut as the kernel cuts it. */
static int comm_matches(const char *comm, const char *name)
{
	if (strlen(name) > MC_FAULT_COMM_LEN)
		return strlen(comm) == MC_FAULT_COMM_LEN &&
		       strncmp(comm, name, MC_FAULT_COMM_LEN) == 0;
	return strcmp(comm, name) == 0;
}

/*
 * Reads /proc/PID/stat: the comm (into comm, 16 bytes) and the state letter.
 * Returns 0, or -errno (-ENOENT: no such process).
 */
static int proc_stat(long pid, char *comm, char *state)
{
	char path[64], buf[1024];
	const char *open_paren, *close_paren;
	ssize_t n;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren || close_paren[1] != ' ')
		return -EINVAL;
	len = (size_t)(close_paren - open_paren - 1);
	if (len > MC_FAULT_COMM_LEN)
		len = MC_FAULT_COMM_LEN;
	memcpy(comm, open_paren + 1, len);
	comm[len] = '\0';
	*state = close_paren[2];
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/*
 * Finds the live processes (not zombies) whose comm is name, except this one, in
 * ascending pid order. Caller owns *pids; free() it. Returns the count, or -errno.
 */
static long find_pids(const char *name, pid_t **pids)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0, cap = 0;
	pid_t self = getpid();
	pid_t *v = NULL;

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		char comm[MC_FAULT_COMM_LEN + 1], state;
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		if (proc_stat(pid, comm, &state) < 0 || state == 'Z' || state == 'X' ||
		    !comm_matches(comm, name))
			continue;
		if (n == cap) {
			pid_t *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[n++] = (pid_t)pid;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_pid);
	*pids = v;
	return (long)n;
}

/* Whether /proc/PID exists and is not a zombie. */
static int proc_alive(long pid)
{
	char comm[MC_FAULT_COMM_LEN + 1], state;

	return proc_stat(pid, comm, &state) == 0 && state != 'Z' && state != 'X';
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- Bit flips through /proc/PID/mem ------------------------------------------------------ */

/*
 * Flips bit (0..7) of the byte at addr in process pid through /proc/PID/mem: pread,
 * flip, pwrite, pread again to verify. Sets *old_byte and *new_byte. Returns 0, or
 * -errno with what failed in err.
 */
int mc__fault_flip(long pid, uint64_t addr, int bit, int *old_byte, int *new_byte, char *err,
                   size_t errlen)
{
	char path[64];
	unsigned char b, nb, check;
	int fd, rc = 0;
	ssize_t n;

	if (bit < 0 || bit > 7 || addr > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "bit %d at 0x%" PRIx64 ": out of range", bit, addr);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return rc;
	}
	n = pread(fd, &b, 1, (off_t)addr);
	if (n != 1) {
		rc = n < 0 ? -errno : -EIO;
		snprintf(err, errlen, "read %s at 0x%" PRIx64 ": %s", path, addr,
		         n < 0 ? strerror(errno) : "nothing read");
		goto out;
	}
	nb = (unsigned char)(b ^ (1u << bit));
	n = pwrite(fd, &nb, 1, (off_t)addr);
	if (n != 1) {
		rc = n < 0 ? -errno : -EIO;
		snprintf(err, errlen, "write %s at 0x%" PRIx64 ": %s", path, addr,
		         n < 0 ? strerror(errno) : "nothing written");
		goto out;
	}
	n = pread(fd, &check, 1, (off_t)addr);
	if (n != 1 || check != nb) {
		rc = n < 0 ? -errno : -EIO;
		snprintf(err, errlen, "verify %s at 0x%" PRIx64 ": %s", path, addr,
		         n < 0 ? strerror(errno) : "the byte did not change");
		goto out;
	}
	*old_byte = b;
	*new_byte = nb;
out:
	close(fd);
	return rc;
}

/* Puts "what: <strerror(e)>" in err; returns -e. Pass errno before anything can change it. */
__attribute__((format(printf, 4, 5))) static int fail_errno(char *err, size_t errlen, int e,
                                                            const char *fmt, ...)
{
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (n < errlen)
		snprintf(err + n, errlen - n, ": %s", strerror(e));
	return -e;
}

/* ---- Disk fill ------------------------------------------------------------------------------ */

/*
 * Grows the open file fd until its file system has no space left: fallocate in chunks
 * that halve on ENOSPC down to one block, or, when fallocate is unsupported or
 * force_write is set, writes of a non-zero pattern (not compressible away) in 1 MiB
 * chunks. Sets *bytes (allocated to the file) and *used_write. Returns 0, or -errno with
 * what failed in err.
 */
int mc__fault_fill_fd(int fd, int force_write, uint64_t *bytes, int *used_write, char *err,
                      size_t errlen)
{
	struct statvfs sv;
	struct stat st;
	uint64_t bsize, chunk, off;
	unsigned char *buf = NULL;
	size_t len = 1u << 20;
	uint64_t state = 0x6d632d6661756c74ull;

	if (fstatvfs(fd, &sv) < 0 || fstat(fd, &st) < 0)
		return fail_errno(err, errlen, errno, "statvfs");
	bsize = sv.f_frsize ? sv.f_frsize : 4096;
	chunk = (uint64_t)sv.f_bfree * bsize;
	if (chunk < bsize)
		chunk = bsize;
	off = (uint64_t)st.st_size;
	while (!force_write) {
		if (fallocate(fd, 0, (off_t)off, (off_t)chunk) == 0) {
			off += chunk;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ENOSPC || errno == EFBIG) {
			if (chunk <= bsize)
				break;
			chunk = chunk / 2 / bsize * bsize;
			if (chunk < bsize)
				chunk = bsize;
			continue;
		}
		if (errno == EOPNOTSUPP || errno == ENOSYS) {
			force_write = 1;
			break;
		}
		return fail_errno(err, errlen, errno, "fallocate %" PRIu64 " bytes at %" PRIu64,
		                  chunk, off);
	}
	*used_write = force_write;
	if (force_write) {
		buf = malloc(len);
		if (!buf) {
			snprintf(err, errlen, "allocate a %zu-byte buffer: %s", len,
			         strerror(ENOMEM));
			return -ENOMEM;
		}
		for (size_t i = 0; i + 8 <= len; i += 8) {
			uint64_t r = mc__fault_rng_next(&state);

			memcpy(buf + i, &r, 8);
		}
		if (lseek(fd, (off_t)off, SEEK_SET) < 0) {
			int rc = fail_errno(err, errlen, errno, "seek");

			free(buf);
			return rc;
		}
		for (;;) {
			ssize_t n = write(fd, buf, len);

			if (n > 0)
				continue;
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0 || errno == ENOSPC || errno == EFBIG || errno == EDQUOT) {
				if (len <= bsize)
					break;
				len = (size_t)bsize; /* the last blocks, one at a time */
				continue;
			}
			n = fail_errno(err, errlen, errno, "write");
			free(buf);
			return (int)n;
		}
		free(buf);
	}
	if (fsync(fd) < 0 && errno != ENOSPC && errno != EINVAL)
		return fail_errno(err, errlen, errno, "fsync");
	if (fstat(fd, &st) < 0)
		return fail_errno(err, errlen, errno, "stat");
	*bytes = (uint64_t)st.st_blocks * 512u;
	return 0;
}

/* ---- Holders -------------------------------------------------------------------------------- */

/* Logs from a holder (its stdio is /dev/null) to the kernel log, best effort. */
__attribute__((format(printf, 1, 2))) static void holder_log(const char *fmt, ...)
{
	char msg[512];
	int fd, n;
	va_list ap;

	n = snprintf(msg, sizeof(msg), "<4>" PROG "[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, msg, strlen(msg)) < 0) {
			/* Nowhere else to say it. */
		}
		close(fd);
	}
}

/* In the holder: stdio on /dev/null, cwd /, the report pipe moved to fd 3, the rest closed. */
static void holder_detach_fds(int *rfd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), closed = 0;

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (*rfd != 3) {
		if (dup3(*rfd, 3, O_CLOEXEC) == 3) {
			close(*rfd);
			*rfd = 3;
		}
	}
#ifdef SYS_close_range
	closed = syscall(SYS_close_range, (unsigned)*rfd + 1, ~0u, 0u) == 0;
#endif
	for (int fd = 3; !closed && fd < 1024; fd++)
		if (fd != *rfd)
			close(fd);
	if (chdir("/") < 0) {
		/* A holder works on absolute paths; the cwd only pins a mount. */
	}
}

/*
 * Starts a holder: fork, setsid, fork again; the grandchild is the holder, in its own
 * session, not a session leader, with stdio on /dev/null. Returns 1 in the caller with
 * *rfd the read end of the report pipe, 0 in the holder with *rfd the write end (send
 * exactly one report with holder_report()), or -errno with what failed in err.
 * stdout and stderr are flushed first so no buffered text is written twice.
 */
static int detach(int *rfd, char *err, size_t errlen)
{
	int p[2], st;
	pid_t c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return fail_errno(err, errlen, errno, "pipe");
	fflush(stdout);
	fflush(stderr);
	c = fork();
	if (c < 0) {
		int e = errno;

		snprintf(err, errlen, "fork: %s", strerror(e));
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (c == 0) {
		pid_t g;

		close(p[0]);
		if (setsid() < 0)
			_exit(1);
		g = fork();
		if (g < 0)
			_exit(1);
		if (g > 0)
			_exit(0);
		*rfd = p[1];
		holder_detach_fds(rfd);
		return 0;
	}
	close(p[1]);
	while (waitpid(c, &st, 0) < 0) {
		if (errno != EINTR) {
			st = -1;
			break;
		}
	}
	if (st != 0) {
		snprintf(err, errlen, "start the holder: its first fork failed");
		close(p[0]);
		return -ECHILD;
	}
	*rfd = p[0];
	return 1;
}

/* In the holder: sends its one report (err 0: ready) and closes the pipe. */
static void holder_report(int fd, int err, uint64_t value, const char *what)
{
	struct report r;
	const char *p = (const char *)&r;
	size_t left = sizeof(r);

	memset(&r, 0, sizeof(r));
	r.pid = (int32_t)getpid();
	r.err = err;
	r.value = value;
	if (what)
		snprintf(r.what, sizeof(r.what), "%s", what);
	while (left) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	close(fd);
}

/*
 * In the caller: reads the holder's report and closes fd. Returns 0 when the holder is
 * ready, or -errno with what failed in err.
 */
static int read_report(int fd, struct report *r, char *err, size_t errlen)
{
	char *p = (char *)r;
	size_t got = 0;

	while (got < sizeof(*r)) {
		ssize_t n = read(fd, p + got, sizeof(*r) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got < sizeof(*r)) {
		snprintf(err, errlen, "the holder ended before it was ready (out of memory?)");
		return -ECHILD;
	}
	r->what[sizeof(r->what) - 1] = '\0';
	if (r->err) {
		snprintf(err, errlen, "%s: %s", r->what, strerror(r->err));
		return -r->err;
	}
	return 0;
}

/* In the holder: blocks SIGTERM and SIGINT, which end the hold (before reporting ready). */
static void holder_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* In the holder: waits for for_ms (forever without have_for) or a signal in set. */
/*
 * In the holder: waits for for_ms (forever without have_for) or a signal in set. The
 * deadline is on CLOCK_MONOTONIC_RAW, which no drift we set moves; the timed waits
 * (on CLOCK_MONOTONIC, which it does move by up to 10%) last at most a second each.
 */
static void holder_wait(const sigset_t *set, int have_for, uint64_t for_ms)
{
	uint64_t deadline = raw_ms() + for_ms;

	for (;;) {
		struct timespec ts;
		uint64_t now = raw_ms(), left;
		int s;

		if (!have_for) {
			s = sigwaitinfo(set, NULL);
		} else {
			if (now >= deadline)
				return;
			left = deadline - now < 1000 ? deadline - now : 1000;
			ts.tv_sec = (time_t)(left / 1000);
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			s = sigtimedwait(set, NULL, &ts);
			if (s < 0 && errno == EAGAIN)
				continue;
		}
		if (s > 0)
			return;
	}
}

/* ---- Subcommands ------------------------------------------------------------------------ */

static int cmd_kill(const struct args *a)
{
	pid_t *pids = NULL;
	long n = find_pids(a->process, &pids);
	size_t done = 0;
	int rc = MC_FAULT_OK, failed = 0;

	if (n < 0) {
		fprintf(stderr, PROG ": kill: list /proc: %s\n", strerror((int)-n));
		return MC_FAULT_FAIL;
	}
	for (long i = 0; i < n; i++) {
		if (kill(pids[i], a->sig) == 0) {
			pids[done++] = pids[i];
			continue;
		}
		if (errno == ESRCH)
			continue; /* it ended meanwhile */
		fprintf(stderr, PROG ": kill: signal %d to %s (pid %ld): %s\n", a->sig, a->process,
		        (long)pids[i], strerror(errno));
		failed = 1;
	}
	if (failed) {
		if (done)
			fprintf(stderr, PROG ": kill: %zu other %s processes were signalled\n",
			        done, a->process);
		rc = MC_FAULT_FAIL;
	} else if (done == 0) {
		fprintf(stderr, PROG ": kill: no process named %s\n", a->process);
		rc = MC_FAULT_NONE;
	} else {
		printf("{\"kind\":\"kill\",\"process\":");
		json_str(stdout, a->process);
		printf(",\"signal\":%d,\"pids\":[", a->sig);
		for (size_t i = 0; i < done; i++)
			printf("%s%ld", i ? "," : "", (long)pids[i]);
		printf("]}\n");
	}
	free(pids);
	return rc;
}

static int cmd_clock_jump(const struct args *a)
{
	struct timespec before, target, after;
	int64_t ns;

	if (clock_gettime(CLOCK_REALTIME, &before) < 0) {
		fprintf(stderr, PROG ": clock-jump: read the clock: %s\n", strerror(errno));
		return MC_FAULT_FAIL;
	}
	ns = (int64_t)before.tv_sec * 1000000000 + before.tv_nsec + a->offset_ms * 1000000;
	if (ns < 0) {
		fprintf(stderr, PROG ": clock-jump: offset %" PRId64 " ms goes before 1970\n",
		        a->offset_ms);
		return MC_FAULT_USAGE;
	}
	target.tv_sec = (time_t)(ns / 1000000000);
	target.tv_nsec = (long)(ns % 1000000000);
	if (clock_settime(CLOCK_REALTIME, &target) < 0) {
		fprintf(stderr, PROG ": clock-jump: set the clock: %s\n", strerror(errno));
		return MC_FAULT_FAIL;
	}
	clock_gettime(CLOCK_REALTIME, &after);
	printf("{\"kind\":\"clock-jump\",\"offset_ms\":%" PRId64 ",\"before_ms\":%" PRId64
	       ",\"after_ms\":%" PRId64 "}\n",
	       a->offset_ms, (int64_t)before.tv_sec * 1000 + before.tv_nsec / 1000000,
	       (int64_t)after.tv_sec * 1000 + after.tv_nsec / 1000000);
	return MC_FAULT_OK;
}

/* Sets tick and freq; 0 or -errno. */
static int set_tick_freq(long tick, long freq)
{
	struct timex tx;

	memset(&tx, 0, sizeof(tx));
	tx.modes = ADJ_TICK | ADJ_FREQUENCY;
	tx.tick = tick;
	tx.freq = freq;
	return adjtimex(&tx) < 0 ? -errno : 0;
}

static int cmd_clock_drift(const struct args *a)
{
	long hz = sysconf(_SC_CLK_TCK), tick, freq, min, max;
	struct timex before, now;
	struct report r;
	char err[256];
	int rc, fd;

	memset(&r, 0, sizeof(r));
	if (hz <= 0)
		hz = 100;
	if (mc__fault_drift_compute(a->ppm, hz, &tick, &freq) < 0) {
		drift_range(hz, &min, &max);
		fprintf(stderr,
		        PROG ": clock-drift: --ppm %ld: out of range: the kernel can drift "
		             "%ld..%ld ppm (USER_HZ %ld)\n",
		        a->ppm, min, max, hz);
		return MC_FAULT_USAGE;
	}
	memset(&before, 0, sizeof(before));
	if (adjtimex(&before) < 0) {
		fprintf(stderr, PROG ": clock-drift: read adjtimex: %s\n", strerror(errno));
		return MC_FAULT_FAIL;
	}
	rc = set_tick_freq(tick, freq);
	if (rc < 0) {
		fprintf(stderr, PROG ": clock-drift: adjtimex tick %ld freq %ld: %s\n", tick, freq,
		        strerror(-rc));
		return MC_FAULT_FAIL;
	}
	memset(&now, 0, sizeof(now));
	if (adjtimex(&now) < 0) {
		now.tick = tick;
		now.freq = freq;
	}
	if (a->have_for) {
		sigset_t set;
		long nominal = 1000000 / hz;

		rc = detach(&fd, err, sizeof(err));
		if (rc == 0) {
			struct timex cur;

			holder_block(&set);
			holder_report(fd, 0, 0, NULL);
			holder_wait(&set, 1, a->for_ms);
			memset(&cur, 0, sizeof(cur));
			if (adjtimex(&cur) < 0) {
				holder_log("clock-drift: read adjtimex: %s", strerror(errno));
				_exit(1);
			}
			if (cur.tick != now.tick || cur.freq != now.freq) {
				holder_log("clock-drift: tick %ld freq %ld were changed meanwhile; "
				           "left alone",
				           (long)cur.tick, (long)cur.freq);
				_exit(0);
			}
			rc = set_tick_freq(nominal, 0);
			if (rc < 0)
				holder_log("clock-drift: restore tick %ld freq 0: %s", nominal,
				           strerror(-rc));
			_exit(rc < 0);
		}
		if (rc > 0)
			rc = read_report(fd, &r, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, PROG ": clock-drift: %s; restoring the nominal clock\n",
			        err);
			set_tick_freq(nominal, 0);
			return MC_FAULT_FAIL;
		}
	}
	printf("{\"kind\":\"clock-drift\",\"ppm\":%ld,\"tick\":%ld,\"freq\":%ld,"
	       "\"before_tick\":%ld,\"before_freq\":%ld",
	       a->ppm, (long)now.tick, (long)now.freq, (long)before.tick, (long)before.freq);
	if (a->have_for)
		printf(",\"for_ms\":%" PRIu64 ",\"holder\":%ld", a->for_ms, (long)r.pid);
	printf("}\n");
	return MC_FAULT_OK;
}

static int cmd_bitflip(const struct args *a)
{
	uint64_t seed = a->seed, state, addr = 0, start = 0, end = 0;
	const char *region = a->region ? a->region : "heap", *chosen = NULL;
	pid_t *pids = NULL;
	long n, pid;
	char path[64], err[512], *maps = NULL;
	int rc, bit, old_byte, new_byte;

	n = find_pids(a->process, &pids);
	if (n < 0) {
		fprintf(stderr, PROG ": bitflip: list /proc: %s\n", strerror((int)-n));
		return MC_FAULT_FAIL;
	}
	if (n == 0) {
		fprintf(stderr, PROG ": bitflip: no process named %s\n", a->process);
		free(pids);
		return MC_FAULT_NONE;
	}
	pid = pids[0];
	free(pids);
	snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	rc = read_all(path, &maps);
	if (rc < 0) {
		fprintf(stderr, PROG ": bitflip: read %s: %s\n", path, strerror(-rc));
		return rc == -ENOENT || rc == -ESRCH ? MC_FAULT_NONE : MC_FAULT_FAIL;
	}
	if (!a->have_seed) {
		if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
			seed = (uint64_t)mono_ms() ^ ((uint64_t)getpid() << 32);
	}
	state = seed;
	rc = mc__fault_maps_choose(maps, region, a->region == NULL, mc__fault_rng_next(&state),
	                           &addr, &start, &end, &chosen);
	free(maps);
	if (rc < 0) {
		fprintf(stderr, PROG ": bitflip: %s (pid %ld): no writable private %s mapping%s\n",
		        a->process, pid, region, a->region == NULL ? " nor anonymous one" : "");
		return MC_FAULT_NONE;
	}
	bit = (int)(mc__fault_rng_next(&state) >> 61);
	rc = mc__fault_flip(pid, addr, bit, &old_byte, &new_byte, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, PROG ": bitflip: %s (pid %ld): %s\n", a->process, pid, err);
		return MC_FAULT_FAIL;
	}
	printf("{\"kind\":\"bitflip\",\"process\":");
	json_str(stdout, a->process);
	printf(",\"pid\":%ld,\"region\":\"%s\",\"mapping\":\"0x%" PRIx64 "-0x%" PRIx64
	       "\",\"address\":\"0x%" PRIx64 "\",\"bit\":%d,\"old\":%d,\"new\":%d,"
	       "\"seed\":\"%" PRIu64 "\"}\n",
	       pid, chosen, start, end, addr, bit, old_byte, new_byte, seed);
	return MC_FAULT_OK;
}

/* Pages of [p, p + len) in memory. */
static uint64_t resident_bytes(void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = (len + page - 1) / page, n = 0;
	unsigned char *vec = malloc(pages ? pages : 1);

	if (!vec)
		return 0;
	if (mincore(p, len, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
	free(vec);
	return (uint64_t)n * page;
}

static int cmd_fill_memory(const struct args *a)
{
	struct report r;
	char err[256];
	int fd, rc;

	if (a->size > SIZE_MAX / 2) {
		fprintf(stderr, PROG ": fill-memory: --size %" PRIu64 ": too large\n", a->size);
		return MC_FAULT_USAGE;
	}
	rc = detach(&fd, err, sizeof(err));
	if (rc == 0) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (size_t)a->size;
		unsigned char *m;
		char what[128];
		sigset_t set;

		holder_block(&set);
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			int e = errno;

			snprintf(what, sizeof(what), "mmap %zu bytes", len);
			holder_report(fd, e, 0, what);
			_exit(1);
		}
		for (size_t off = 0; off < len; off += page)
			m[off] = (unsigned char)((off / page) | 1); /* distinct, never zero */
		holder_report(fd, 0, resident_bytes(m, len), NULL);
		holder_wait(&set, a->have_for, a->for_ms);
		_exit(0);
	}
	if (rc > 0)
		rc = read_report(fd, &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, PROG ": fill-memory: %s\n", err);
		return MC_FAULT_FAIL;
	}
	printf("{\"kind\":\"fill-memory\",\"size\":%" PRIu64 ",\"resident\":%" PRIu64
	       ",\"holder\":%ld",
	       a->size, r.value, (long)r.pid);
	if (a->have_for)
		printf(",\"for_ms\":%" PRIu64, a->for_ms);
	printf("}\n");
	return MC_FAULT_OK;
}

/* Removes file if it is still the one we made (dev, ino); 0 or -errno. */
static int remove_fill(const char *file, dev_t dev, ino_t ino)
{
	struct stat st;

	if (lstat(file, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (st.st_dev != dev || st.st_ino != ino)
		return 0; /* undone and made again since: not ours */
	return unlink(file) < 0 && errno != ENOENT ? -errno : 0;
}

static void print_space(const struct statvfs *sv)
{
	printf(",\"free\":%" PRIu64 ",\"avail\":%" PRIu64,
	       (uint64_t)sv->f_bfree * (uint64_t)sv->f_frsize,
	       (uint64_t)sv->f_bavail * (uint64_t)sv->f_frsize);
}

static int cmd_disk_full(const struct args *a)
{
	const char *dirarg = a->path ? a->path : "/data";
	char dir[PATH_MAX], file[PATH_MAX + sizeof(MC_FAULT_FILL_NAME) + 1], err[512];
	struct statvfs sv;
	struct report r;
	struct stat st;
	uint64_t bytes = 0;
	int fd, rc, used_write = 0;

	if (!realpath(dirarg, dir)) {
		fprintf(stderr, PROG ": disk-full: directory %s: %s\n", dirarg, strerror(errno));
		return MC_FAULT_FAIL;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, PROG ": disk-full: %s: not a directory\n", dir);
		return MC_FAULT_FAIL;
	}
	snprintf(file, sizeof(file), "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, MC_FAULT_FILL_NAME);
	if (a->undo) {
		if (lstat(file, &st) < 0) {
			fprintf(stderr, PROG ": disk-full --undo: %s: %s\n", file, strerror(errno));
			return errno == ENOENT ? MC_FAULT_NONE : MC_FAULT_FAIL;
		}
		if (unlink(file) < 0) {
			fprintf(stderr, PROG ": disk-full --undo: remove %s: %s\n", file,
			        strerror(errno));
			return MC_FAULT_FAIL;
		}
		if (statvfs(dir, &sv) < 0)
			memset(&sv, 0, sizeof(sv));
		printf("{\"kind\":\"disk-full\",\"undo\":true,\"path\":");
		json_str(stdout, dir);
		printf(",\"file\":");
		json_str(stdout, file);
		printf(",\"bytes\":%" PRIu64, (uint64_t)st.st_blocks * 512u);
		print_space(&sv);
		printf("}\n");
		return MC_FAULT_OK;
	}
	/* A fresh file: never truncate or follow what someone else left under our name. */
	if (unlink(file) < 0 && errno != ENOENT) {
		fprintf(stderr, PROG ": disk-full: remove the old %s: %s\n", file, strerror(errno));
		return MC_FAULT_FAIL;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, PROG ": disk-full: create %s: %s\n", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return MC_FAULT_FAIL;
	}
	rc = mc__fault_fill_fd(fd, 0, &bytes, &used_write, err, sizeof(err));
	close(fd);
	if (rc < 0) {
		fprintf(stderr, PROG ": disk-full: fill %s: %s\n", file, err);
		unlink(file);
		return MC_FAULT_FAIL;
	}
	if (statvfs(dir, &sv) < 0)
		memset(&sv, 0, sizeof(sv));
	if (a->have_for) {
		sigset_t set;

		rc = detach(&fd, err, sizeof(err));
		if (rc == 0) {
			holder_block(&set);
			holder_report(fd, 0, 0, NULL);
			holder_wait(&set, 1, a->for_ms);
			rc = remove_fill(file, st.st_dev, st.st_ino);
			if (rc < 0)
				holder_log("disk-full: remove %s: %s", file, strerror(-rc));
			_exit(rc < 0);
		}
		if (rc > 0)
			rc = read_report(fd, &r, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, PROG ": disk-full: %s; removing %s\n", err, file);
			unlink(file);
			return MC_FAULT_FAIL;
		}
	}
	printf("{\"kind\":\"disk-full\",\"path\":");
	json_str(stdout, dir);
	printf(",\"file\":");
	json_str(stdout, file);
	printf(",\"bytes\":%" PRIu64 ",\"method\":\"%s\"", bytes,
	       used_write ? "write" : "fallocate");
	print_space(&sv);
	if (a->have_for)
		printf(",\"for_ms\":%" PRIu64 ",\"holder\":%ld", a->for_ms, (long)r.pid);
	printf("}\n");
	return MC_FAULT_OK;
}

/* Whether pid's command line is a holder's: argv[0] named mc-fault, a holding subcommand. */
static int is_holder(long pid, char *cmd, size_t cmdlen)
{
	static const char *const holding[] = {"fill-memory", "disk-full", "clock-drift"};
	char path[64], buf[4096];
	const char *argv0, *base, *argv1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	argv0 = buf;
	argv1 = (size_t)n > strlen(argv0) + 1 ? argv0 + strlen(argv0) + 1 : "";
	snprintf(cmd, cmdlen, "%s %s", argv0, argv1);
	base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	if (strcmp(base, PROG) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(holding) / sizeof(holding[0]); i++)
		if (strcmp(argv1, holding[i]) == 0)
			return 1;
	return 0;
}

static int cmd_release(const struct args *a)
{
	char cmd[256] = "";
	uint64_t deadline;
	int h;

	if (a->pid == (long)getpid()) {
		fprintf(stderr, PROG ": release: pid %ld is this process\n", a->pid);
		return MC_FAULT_USAGE;
	}
	if (!proc_alive(a->pid)) {
		fprintf(stderr, PROG ": release: no process %ld (or it has ended)\n", a->pid);
		return MC_FAULT_NONE;
	}
	h = is_holder(a->pid, cmd, sizeof(cmd));
	if (h < 0) {
		fprintf(stderr, PROG ": release: read /proc/%ld/cmdline: %s\n", a->pid,
		        strerror(-h));
		return h == -ENOENT ? MC_FAULT_NONE : MC_FAULT_FAIL;
	}
	if (h == 0) {
		fprintf(stderr,
		        PROG ": release: pid %ld is not an " PROG " holder (it runs '%s')\n",
		        a->pid, cmd);
		return MC_FAULT_FAIL;
	}
	if (kill((pid_t)a->pid, SIGTERM) < 0) {
		fprintf(stderr, PROG ": release: signal pid %ld: %s\n", a->pid, strerror(errno));
		return errno == ESRCH ? MC_FAULT_NONE : MC_FAULT_FAIL;
	}
	deadline = mono_ms() + MC_FAULT_RELEASE_MS;
	while (proc_alive(a->pid)) {
		if (mono_ms() >= deadline) {
			fprintf(stderr,
			        PROG ": release: pid %ld did not end within %d s of SIGTERM\n",
			        a->pid, MC_FAULT_RELEASE_MS / 1000);
			return MC_FAULT_FAIL;
		}
		sleep_ms(20);
	}
	printf("{\"kind\":\"release\",\"pid\":%ld,\"signal\":%d,\"ended\":true}\n", a->pid,
	       SIGTERM);
	return MC_FAULT_OK;
}

/* ---- Command line --------------------------------------------------------------------------- */

static const char usage_top[] =
        "usage: " PROG " SUBCOMMAND [OPTIONS]    (" PROG " SUBCOMMAND --help for details)\n"
        "Injects one fault inside this guest and prints one JSON line saying what it did.\n"
        "  kill         signal processes by name\n"
        "  clock-jump   step the wall clock\n"
        "  clock-drift  make the clock run fast or slow\n"
        "  bitflip      flip one bit in a process's memory\n"
        "  fill-memory  allocate and touch memory, held by a detached process\n"
        "  disk-full    fill a file system until no space is left\n"
        "  release      end a detached holder (fill-memory, or --for)\n"
        "Exit status: 0 done, 1 failed, 2 bad usage, 3 nothing matched.\n"
        "DURATION: 250ms, 10s, 2m, 1h (a bare number is seconds).\n"
        "SIZE: 512K, 64M, 1G, 4096B (a bare number is MiB).\n";

static const char usage_kill[] =
        "usage: " PROG " kill --process NAME [--signal SIG]\n"
        "Signals every process whose comm (/proc/PID/comm) is NAME, never itself.\n"
        "  --process NAME  process name (names over 15 characters match their first 15)\n"
        "  --signal SIG    name (KILL, TERM, SEGV, SIGSTOP...) or number; default KILL\n"
        "Prints {\"kind\":\"kill\",\"process\":NAME,\"signal\":N,\"pids\":[...]}; exit 3 if "
        "none.\n";

static const char usage_clock_jump[] =
        "usage: " PROG " clock-jump --offset [+|-]DURATION\n"
        "Steps CLOCK_REALTIME by the offset (e.g. -30s, +2h, 1500ms).\n"
        "Prints {\"kind\":\"clock-jump\",\"offset_ms\":N,\"before_ms\":T,\"after_ms\":T} "
        "(ms since the epoch).\n";

static const char usage_clock_drift[] =
        "usage: " PROG " clock-drift --ppm N [--for DURATION]\n"
        "Makes the clock run N parts per million fast (negative: slow) with adjtimex:\n"
        "freq covers +-500 ppm, tick the rest (100 ppm a unit at USER_HZ 100), up to about\n"
        "+-100500 ppm. --ppm 0 restores the nominal clock (tick 10000, freq 0).\n"
        "  --for D  a detached holder restores the nominal clock after D (or on SIGTERM)\n"
        "Prints {\"kind\":\"clock-drift\",\"ppm\":N,\"tick\":T,\"freq\":F,\"before_tick\":T,"
        "\"before_freq\":F[,\"for_ms\":D,\"holder\":PID]}\n"
        "(freq in the kernel's units of 2^-16 ppm).\n";

static const char usage_bitflip[] =
        "usage: " PROG " bitflip --process NAME [--region heap|stack|anon] [--seed S]\n"
        "Flips one bit of a writable private mapping of the first (lowest pid) process\n"
        "named NAME, through /proc/PID/mem, and checks it.\n"
        "  --region R  heap ([heap]), stack ([stack]) or anon (writable anonymous mappings);\n"
        "              by default heap, or anon when the process has no heap\n"
        "  --seed S    seed (decimal, 64 bits) choosing the byte and bit; default random\n"
        "Prints {\"kind\":\"bitflip\",\"process\":NAME,\"pid\":P,\"region\":R,\"mapping\":"
        "\"0xS-0xE\",\"address\":\"0xA\",\"bit\":B,\"old\":O,\"new\":N,\"seed\":\"S\"}\n"
        "(old and new are byte values; the seed is a string: 64 bits do not fit every JSON\n"
        "reader's numbers); exit 3 if no such process or mapping.\n";

static const char usage_fill_memory[] =
        "usage: " PROG " fill-memory --size SIZE [--for DURATION]\n"
        "A detached holder maps SIZE of anonymous memory, touches every page and keeps it\n"
        "until SIGTERM (" PROG " release --pid PID), or for DURATION with --for.\n"
        "Prints {\"kind\":\"fill-memory\",\"size\":BYTES,\"resident\":BYTES,\"holder\":PID"
        "[,\"for_ms\":D]}\n";

static const char usage_disk_full[] =
        "usage: " PROG " disk-full [--path DIR] [--for DURATION]\n"
        "       " PROG " disk-full --undo [--path DIR]\n"
        "Fills the file system holding DIR (default /data) with DIR/" MC_FAULT_FILL_NAME "\n"
        "(fallocate, or writes where that is unsupported) until no space is left.\n"
        "  --for D  a detached holder removes the file after D (or on SIGTERM)\n"
        "  --undo   remove the file (exit 3 if there is none)\n"
        "Prints {\"kind\":\"disk-full\",\"path\":DIR,\"file\":F,\"bytes\":N,\"method\":M,"
        "\"free\":N,\"avail\":N[,\"for_ms\":D,\"holder\":PID]}\n"
        "(bytes allocated to the file; free and avail as statvfs reports them after);\n"
        "--undo prints {\"kind\":\"disk-full\",\"undo\":true,\"path\":DIR,\"file\":F,"
        "\"bytes\":N,\"free\":N,\"avail\":N}.\n";

static const char usage_release[] =
        "usage: " PROG " release --pid PID\n"
        "Ends a detached holder of this tool with SIGTERM (it reverts its fault first) and\n"
        "waits up to 10 s for it to end. Refuses a process that is not a holder.\n"
        "Prints {\"kind\":\"release\",\"pid\":PID,\"signal\":15,\"ended\":true}; exit 3 if "
        "no such process.\n";

/* Every option; each subcommand takes the ones whose letters it lists. */
static const struct option all_opts[] = {
        {"process", required_argument, NULL, 'p'}, {"signal", required_argument, NULL, 's'},
        {"offset", required_argument, NULL, 'o'},  {"ppm", required_argument, NULL, 'P'},
        {"for", required_argument, NULL, 'f'},     {"region", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 'S'},    {"size", required_argument, NULL, 'z'},
        {"path", required_argument, NULL, 'd'},    {"undo", no_argument, NULL, 'u'},
        {"pid", required_argument, NULL, 'i'},     {"help", no_argument, NULL, 'h'},
};

struct sub {
	const char *name;
	int (*run)(const struct args *a);
	const char *usage;
	const char *opts;     /* the letters of all_opts it takes */
	const char *required; /* the letters it needs */
};

static const struct sub subs[] = {
        {"kill", cmd_kill, usage_kill, "psh", "p"},
        {"clock-jump", cmd_clock_jump, usage_clock_jump, "oh", "o"},
        {"clock-drift", cmd_clock_drift, usage_clock_drift, "Pfh", "P"},
        {"bitflip", cmd_bitflip, usage_bitflip, "prSh", "p"},
        {"fill-memory", cmd_fill_memory, usage_fill_memory, "zfh", "z"},
        {"disk-full", cmd_disk_full, usage_disk_full, "dfuh", ""},
        {"release", cmd_release, usage_release, "ih", "i"},
};

static const char *opt_name(int letter)
{
	for (size_t i = 0; i < sizeof(all_opts) / sizeof(all_opts[0]); i++)
		if (all_opts[i].val == letter)
			return all_opts[i].name;
	return "?";
}

/* Parses one option's value into a; 0, or -1 after saying what is wrong. */
static int parse_opt(const struct sub *s, int letter, const char *v, struct args *a)
{
	const char *want = NULL;
	unsigned long long u;
	char *end;
	long l;

	switch (letter) {
	case 'p':
		if (!*v)
			want = "a process name";
		a->process = v;
		break;
	case 's':
		if (mc__fault_parse_signal(v, &a->sig) < 0)
			want = "a signal name or number, e.g. KILL, TERM, 9";
		break;
	case 'o':
		if (mc__fault_parse_duration(v, 1, &a->offset_ms) < 0)
			want = "a duration with an optional sign, e.g. -30s, +2h, 1500ms";
		a->have_offset = 1;
		break;
	case 'P':
		errno = 0;
		l = strtol(v, &end, 10);
		if (errno || end == v || *end || l <= -1000000 || l >= 1000000)
			want = "an integer number of ppm, e.g. 200 or -50000";
		a->ppm = l;
		a->have_ppm = 1;
		break;
	case 'f': {
		int64_t ms;

		if (mc__fault_parse_duration(v, 0, &ms) < 0 || ms <= 0)
			want = "a duration above 0, e.g. 250ms, 10s, 2m, 1h";
		a->for_ms = (uint64_t)ms;
		a->have_for = 1;
		break;
	}
	case 'r':
		if (strcmp(v, "heap") && strcmp(v, "stack") && strcmp(v, "anon"))
			want = "heap, stack or anon";
		a->region = v;
		break;
	case 'S':
		errno = 0;
		u = strtoull(v, &end, 10);
		if (errno || end == v || *end || !isdigit((unsigned char)*v))
			want = "a decimal number 0..18446744073709551615";
		a->seed = u;
		a->have_seed = 1;
		break;
	case 'z':
		if (mc__fault_parse_size(v, &a->size) < 0)
			want = "a size, e.g. 512K, 64M, 1G";
		a->have_size = 1;
		break;
	case 'd':
		if (!*v)
			want = "a directory";
		a->path = v;
		break;
	case 'u':
		a->undo = 1;
		break;
	case 'i':
		errno = 0;
		l = strtol(v, &end, 10);
		if (errno || end == v || *end || l < 2 || l > INT_MAX)
			want = "a process id";
		a->pid = l;
		a->have_pid = 1;
		break;
	default: /* an option in all_opts without a case here: refuse rather than ignore */
		want = "an option this build handles";
		break;
	}
	if (want) {
		fprintf(stderr, PROG " %s: --%s '%s': want %s\n", s->name, opt_name(letter), v,
		        want);
		return -1;
	}
	return 0;
}

/*
 * Fills a from the subcommand's arguments (argv[0] is the subcommand). Does nothing
 * else. Returns 0, or -1 after saying what is wrong on stderr.
 */
static int parse_args(const struct sub *s, int argc, char **argv, struct args *a)
{
	struct option lo[sizeof(all_opts) / sizeof(all_opts[0]) + 1];
	size_t n = 0;
	int opt;

	memset(a, 0, sizeof(*a));
	a->sig = SIGKILL;
	for (size_t i = 0; i < sizeof(all_opts) / sizeof(all_opts[0]); i++)
		if (strchr(s->opts, all_opts[i].val))
			lo[n++] = all_opts[i];
	memset(&lo[n], 0, sizeof(lo[n]));
	optind = 0; /* glibc: start afresh */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", lo, NULL)) != -1) {
		if (opt == 'h') {
			a->help = 1;
			return 0;
		}
		if (opt == '?') {
			fprintf(stderr, PROG " %s: unknown option '%s'\n", s->name,
			        argv[optind - 1]);
			return -1;
		}
		if (opt == ':') {
			fprintf(stderr, PROG " %s: option '%s' needs a value\n", s->name,
			        argv[optind - 1]);
			return -1;
		}
		if (parse_opt(s, opt, optarg, a) < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, PROG " %s: unexpected argument '%s'\n", s->name, argv[optind]);
		return -1;
	}
	for (const char *r = s->required; *r; r++) {
		if ((*r == 'p' && !a->process) || (*r == 'o' && !a->have_offset) ||
		    (*r == 'P' && !a->have_ppm) || (*r == 'z' && !a->have_size) ||
		    (*r == 'i' && !a->have_pid)) {
			fprintf(stderr, PROG " %s: --%s is required\n", s->name, opt_name(*r));
			return -1;
		}
	}
	if (a->undo && a->have_for) {
		fprintf(stderr, PROG " %s: --undo takes no --for\n", s->name);
		return -1;
	}
	return 0;
}

/* The whole command line: main() without the name, so tests can link the rest. */
int mc__fault_main(int argc, char **argv)
{
	const struct sub *s = NULL;
	struct args a;
	int fd;

	/* fds 0-2 open (so no pipe lands there), children waitable whatever we inherited. */
	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && fd <= STDERR_FILENO)
		fcntl(fd, F_SETFD, 0);
	if (fd > STDERR_FILENO)
		close(fd);
	signal(SIGCHLD, SIG_DFL);

	if (argc < 2) {
		fputs(usage_top, stderr);
		return MC_FAULT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_top, stdout);
		return MC_FAULT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			s = &subs[i];
	if (!s) {
		fprintf(stderr, PROG ": unknown subcommand '%s'\n", argv[1]);
		fputs(usage_top, stderr);
		return MC_FAULT_USAGE;
	}
	if (parse_args(s, argc - 1, argv + 1, &a) < 0) {
		fputs(s->usage, stderr);
		return MC_FAULT_USAGE;
	}
	if (a.help) {
		fputs(s->usage, stdout);
		return MC_FAULT_OK;
	}
	return s->run(&a);
}
#ifndef MC_FAULT_NO_MAIN
int main(int argc, char **argv)
{
	return mc__fault_main(argc, argv);
}
#endif
