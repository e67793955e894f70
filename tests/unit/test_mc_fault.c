/* test_mc_fault.c — mc-fault: its parsers and computations, and real faults on the host. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#ifndef MC_FAULT_PATH
#error "MC_FAULT_PATH must name the mc-fault binary"
#endif

/*
 * The internal functions of guests/tools/mc_fault.c (built here with MC_FAULT_NO_MAIN).
 * They have no header; these prototypes must match the definitions there.
 */
int mc__fault_parse_duration(const char *s, int allow_sign, int64_t *ms);
int mc__fault_parse_size(const char *s, uint64_t *bytes);
int mc__fault_parse_signal(const char *s, int *sig);
uint64_t mc__fault_rng_next(uint64_t *state);
int mc__fault_maps_parse_line(const char *line, uint64_t *start, uint64_t *end, char *perms,
                              uint64_t *inode, const char **path);
int mc__fault_maps_choose(const char *maps, const char *region, int fallback, uint64_t rnd,
                          uint64_t *addr, uint64_t *start, uint64_t *end, const char **chosen);
int mc__fault_drift_compute(long ppm, long user_hz, long *tick, long *freq);
int mc__fault_flip(long pid, uint64_t addr, int bit, int *old_byte, int *new_byte, char *err,
                   size_t errlen);
int mc__fault_fill_fd(int fd, int force_write, uint64_t *bytes, int *used_write, char *err,
                      size_t errlen);

#define RUN_TIMEOUT_MS 30000
#define MIB            (1024u * 1024u)

/* ---- Helpers ------------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* What one run of the tool gave. */
struct run {
	int status; /* exit status, 128 + signal, or -1 when it could not run or timed out */
	char out[65536];
	size_t out_len;
	char err[65536];
	size_t err_len;
};

/*
 * Runs the binary at path with args (NULL-terminated, argv[0] included) and reads its
 * stdout and stderr until both close, as the guest agent does: a holder that kept them
 * open would show up as a timeout. No cmocka calls: used from forked children too.
 */
static int run_at(struct run *r, const char *path, const char *const *args)
{
	int po[2], pe[2], st;
	uint64_t deadline = now_ms() + RUN_TIMEOUT_MS;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		execv(path, (char *const *)args);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[2] = {{.fd = po[0], .events = POLLIN},
		                      {.fd = pe[0], .events = POLLIN}};
		uint64_t now = now_ms();

		if (now >= deadline) {
			kill(pid, SIGKILL);
			snprintf(r->err, sizeof(r->err), "timed out: stdout or stderr stayed open");
			close(po[0]);
			close(pe[0]);
			waitpid(pid, NULL, 0);
			return -1;
		}
		if (poll(p, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			char *buf = i ? r->err : r->out;
			size_t *len = i ? &r->err_len : &r->out_len, cap = sizeof(r->out) - 1;
			ssize_t n;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf + *len, cap - *len);
			if (n > 0) {
				*len += (size_t)n;
				buf[*len] = '\0';
				continue;
			}
			close(p[i].fd);
			if (i)
				pe[0] = -1;
			else
				po[0] = -1;
			open_fds--;
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return 0;
}

/* Runs mc-fault with the arguments that follow (NULL-terminated). */
static int run_tool(struct run *r, ...)
{
	const char *args[32] = {"mc-fault"};
	size_t n = 1;
	va_list ap;

	va_start(ap, r);
	while (n < 31 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	return run_at(r, MC_FAULT_PATH, args);
}

/* The one JSON line of a run, or NULL (why in why). Caller owns it; json_decref() it. */
static json_t *run_json(const struct run *r, char *why, size_t whylen)
{
	json_error_t je;
	json_t *j;

	if (r->out_len == 0 || r->out[r->out_len - 1] != '\n' ||
	    strchr(r->out, '\n') != r->out + r->out_len - 1) {
		snprintf(why, whylen, "stdout is not one line: \"%s\"", r->out);
		return NULL;
	}
	j = json_loads(r->out, 0, &je);
	if (!j || !json_is_object(j)) {
		snprintf(why, whylen, "stdout is not a JSON object (%s): \"%s\"", je.text, r->out);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Asserts the run exited 0 with one JSON object of kind; returns it (json_decref() it). */
static json_t *expect_json(const struct run *r, const char *kind)
{
	char why[70000];
	json_t *j;

	if (r->status != 0)
		fail_msg("mc-fault exited %d: stderr \"%s\", stdout \"%s\"", r->status, r->err,
		         r->out);
	j = run_json(r, why, sizeof(why));
	if (!j)
		fail_msg("%s", why);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), kind);
	return j;
}

/* Asserts the run exited status with nothing on stdout and want in its stderr. */
static void expect_fail(const struct run *r, int status, const char *want)
{
	if (r->status != status || r->out_len != 0 || !strstr(r->err, want))
		fail_msg("mc-fault exited %d (want %d), stdout \"%s\", stderr \"%s\" (want \"%s\")",
		         r->status, status, r->out, r->err, want);
}

static json_int_t jint(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	if (!json_is_integer(v))
		fail_msg("JSON field %s is not an integer", key);
	return json_integer_value(v);
}

static int need_root(void)
{
	const char *may = getenv("MC_TEST_MAY_SKIP");

	if (geteuid() == 0)
		return 1;
	if (may && strcmp(may, "1") == 0) {
		fprintf(stderr, "test_mc_fault: skip (MC_TEST_MAY_SKIP=1): not root\n");
		skip();
	}
	fail_msg("this test needs root (set MC_TEST_MAY_SKIP=1 to allow a skip)");
	return 0;
}

/* A child that names itself name (its comm), tells us, and waits to be killed. */
static pid_t spawn_named(const char *name)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *keep = malloc(1 << 16); /* a heap for bitflip to find */

		if (keep)
			memset(keep, 0x33, 1 << 16);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/* Waits for pid (our child or, as subreaper, an orphaned descendant) up to ms; its status. */
static int wait_for(pid_t pid, unsigned ms, int *status)
{
	uint64_t deadline = now_ms() + ms;

	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0 || now_ms() >= deadline)
			return -1;
		sleep_ms(10);
	}
}

static void kill_reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

/* ---- Parsers ------------------------------------------------------------------------------ */

static void dur_ok(const char *s, int allow_sign, int64_t want)
{
	int64_t ms = 12345;
	int rc = mc__fault_parse_duration(s, allow_sign, &ms);

	if (rc != 0 || ms != want)
		fail_msg("duration \"%s\" (sign %d): rc %d, %" PRId64 " ms (want %" PRId64 ")", s,
		         allow_sign, rc, ms, want);
}

static void dur_bad(const char *s, int allow_sign)
{
	int64_t ms;
	int rc = mc__fault_parse_duration(s, allow_sign, &ms);

	if (rc != -EINVAL)
		fail_msg("duration \"%s\" (sign %d): rc %d, want -EINVAL", s ? s : "(null)",
		         allow_sign, rc);
}

static void test_parse_duration(void **state)
{
	(void)state;
	dur_ok("250ms", 0, 250);
	dur_ok("10s", 0, 10000);
	dur_ok("2m", 0, 120000);
	dur_ok("1h", 0, 3600000);
	dur_ok("5", 0, 5000); /* a bare number is seconds, as in plans */
	dur_ok("0ms", 0, 0);
	dur_ok("1500ms", 1, 1500);
	dur_ok("-30s", 1, -30000);
	dur_ok("+2h", 1, 7200000);
	dur_ok("-250ms", 1, -250);
	dur_bad("-30s", 0);
	dur_bad("+2h", 0);
	dur_bad("", 1);
	dur_bad("s", 1);
	dur_bad("-", 1);
	dur_bad("5x", 1);
	dur_bad("1.5s", 1);
	dur_bad("10 s", 1);
	dur_bad("--5s", 1);
	dur_bad(" 5s", 1);
	dur_bad("99999999999999999999h", 1);
	dur_bad("9999999999h", 1); /* past the cap */
	dur_bad(NULL, 1);
}

static void size_ok(const char *s, uint64_t want)
{
	uint64_t b = 1;
	int rc = mc__fault_parse_size(s, &b);

	if (rc != 0 || b != want)
		fail_msg("size \"%s\": rc %d, %" PRIu64 " (want %" PRIu64 ")", s, rc, b, want);
}

static void size_bad(const char *s)
{
	uint64_t b;
	int rc = mc__fault_parse_size(s, &b);

	if (rc != -EINVAL)
		fail_msg("size \"%s\": rc %d, want -EINVAL", s ? s : "(null)", rc);
}

static void test_parse_size(void **state)
{
	(void)state;
	size_ok("64M", 64ull << 20);
	size_ok("1G", 1ull << 30);
	size_ok("512K", 512ull << 10);
	size_ok("512k", 512ull << 10);
	size_ok("2T", 2ull << 40);
	size_ok("64MiB", 64ull << 20);
	size_ok("64MB", 64ull << 20);
	size_ok("1g", 1ull << 30);
	size_ok("4096B", 4096);
	size_ok("3", 3ull << 20); /* a bare number is MiB, as in plans */
	size_bad("0");
	size_bad("0M");
	size_bad("");
	size_bad("M");
	size_bad("-1M");
	size_bad("5X");
	size_bad("64Mb");
	size_bad("64MiBs");
	size_bad("4096BB");
	size_bad("1.5G");
	size_bad("99999999999T");
	size_bad("99999999999999999999");
	size_bad(NULL);
}

static void sig_ok(const char *s, int want)
{
	int sig = -1, rc = mc__fault_parse_signal(s, &sig);

	if (rc != 0 || sig != want)
		fail_msg("signal \"%s\": rc %d, %d (want %d)", s, rc, sig, want);
}

static void sig_bad(const char *s)
{
	int sig, rc = mc__fault_parse_signal(s, &sig);

	if (rc != -EINVAL)
		fail_msg("signal \"%s\": rc %d, want -EINVAL", s ? s : "(null)", rc);
}

static void test_parse_signal(void **state)
{
	char max[16];

	(void)state;
	sig_ok("KILL", SIGKILL);
	sig_ok("SIGKILL", SIGKILL);
	sig_ok("kill", SIGKILL);
	sig_ok("sigterm", SIGTERM);
	sig_ok("TERM", SIGTERM);
	sig_ok("SEGV", SIGSEGV);
	sig_ok("STOP", SIGSTOP);
	sig_ok("CONT", SIGCONT);
	sig_ok("USR1", SIGUSR1);
	sig_ok("ABRT", SIGABRT);
	sig_ok("9", 9);
	sig_ok("15", 15);
	snprintf(max, sizeof(max), "%d", SIGRTMAX);
	sig_ok(max, SIGRTMAX);
	snprintf(max, sizeof(max), "%d", SIGRTMAX + 1);
	sig_bad(max);
	sig_bad("0");
	sig_bad("-9");
	sig_bad("9x");
	sig_bad("");
	sig_bad("SIG");
	sig_bad("FOO");
	sig_bad("SIGSIGKILL");
	sig_bad(NULL);
}

static void test_rng(void **state)
{
	uint64_t a = 0, b = 0, c = 1;

	(void)state;
	/* splitmix64's published first output for seed 0. */
	assert_int_equal(mc__fault_rng_next(&a), 0xe220a8397b1dcdafull);
	assert_int_equal(mc__fault_rng_next(&b), 0xe220a8397b1dcdafull);
	assert_int_equal(mc__fault_rng_next(&a), mc__fault_rng_next(&b));
	assert_int_not_equal(mc__fault_rng_next(&c), 0xe220a8397b1dcdafull);
}

/* ---- /proc/PID/maps ------------------------------------------------------------------------ */

static const char maps_text[] =
        "55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 1234    /usr/bin/cat\n"
        "55d0c0a02000-55d0c0a07000 r-xp 00002000 08:01 1234    /usr/bin/cat\n"
        "55d0c0a0c000-55d0c0a0d000 rw-p 0000b000 08:01 1234    /usr/bin/cat\n"
        "55d0c1e6e000-55d0c1e8f000 rw-p 00000000 00:00 0          [heap]\n"
        "7f1c2e400000-7f1c2e600000 rw-p 00000000 00:00 0 \n"
        "7f1c2e700000-7f1c2e701000 r--p 00000000 00:00 0\n"
        "7f1c2e800000-7f1c2e801000 rw-s 00000000 00:01 77     /dev/zero (deleted)\n"
        "7f1c2e900000-7f1c2e901000 ---p 00000000 00:00 0\n"
        "7f1c2ea00000-7f1c2ea03000 rw-p 00000000 00:00 0    [anon:scratch]\n"
        "7f1c2eb00000-7f1c2eb01000 rw-p 00000000 fd:01 99   /tmp/with space (deleted)\n"
        "this line is not a mapping\n"
        "7ffd4b7e6000-7ffd4b807000 rw-p 00000000 00:00 0          [stack]\n"
        "7ffd4b8f0000-7ffd4b8f4000 r--p 00000000 00:00 0          [vvar]\n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]";

static void test_maps_parse_line(void **state)
{
	uint64_t s, e, ino;
	const char *path;
	char perms[5];

	(void)state;
	assert_int_equal(mc__fault_maps_parse_line("55d0c1e6e000-55d0c1e8f000 rw-p 00000000 00:00 "
	                                           "0          [heap]",
	                                           &s, &e, perms, &ino, &path),
	                 0);
	assert_int_equal(s, 0x55d0c1e6e000ull);
	assert_int_equal(e, 0x55d0c1e8f000ull);
	assert_string_equal(perms, "rw-p");
	assert_int_equal(ino, 0);
	assert_string_equal(path, "[heap]");

	assert_int_equal(mc__fault_maps_parse_line("7f1c2eb00000-7f1c2eb01000 rw-p 00001000 fd:01 "
	                                           "99   /tmp/with space (deleted)",
	                                           &s, &e, perms, &ino, &path),
	                 0);
	assert_int_equal(ino, 99);
	assert_string_equal(path, "/tmp/with space (deleted)");

	assert_int_equal(
	        mc__fault_maps_parse_line("7f1c2e400000-7f1c2e600000 rw-p 00000000 00:00 0", &s, &e,
	                                  perms, &ino, &path),
	        0);
	assert_string_equal(path, "");
	assert_int_equal(
	        mc__fault_maps_parse_line("7f1c2e400000-7f1c2e600000 rw-p 00000000 00:00 0 ", &s,
	                                  &e, perms, &ino, &path),
	        0);
	assert_string_equal(path, "");

	assert_int_equal(mc__fault_maps_parse_line("", &s, &e, perms, &ino, &path), -EINVAL);
	assert_int_equal(mc__fault_maps_parse_line("garbage", &s, &e, perms, &ino, &path), -EINVAL);
	assert_int_equal(
	        mc__fault_maps_parse_line("1000-2000 rw-p 0 00:00", &s, &e, perms, &ino, &path),
	        -EINVAL);
	assert_int_equal(
	        mc__fault_maps_parse_line("2000-1000 rw-p 0 00:00 0", &s, &e, perms, &ino, &path),
	        -EINVAL); /* end before start */
	assert_int_equal(
	        mc__fault_maps_parse_line("1000-2000 rw- 0 00:00 0", &s, &e, perms, &ino, &path),
	        -EINVAL); /* 3 permission letters */
	assert_int_equal(
	        mc__fault_maps_parse_line("1000-2000 rw-p 0 00:00 0x", &s, &e, perms, &ino, &path),
	        -EINVAL);
}

static void choose_ok(const char *maps, const char *region, int fallback, uint64_t rnd,
                      uint64_t want_addr, uint64_t want_start, const char *want_region)
{
	uint64_t addr = 0, start = 0, end = 0;
	const char *chosen = NULL;
	int rc = mc__fault_maps_choose(maps, region, fallback, rnd, &addr, &start, &end, &chosen);

	if (rc != 0 || addr != want_addr || start != want_start || !chosen ||
	    strcmp(chosen, want_region) != 0 || addr < start || addr >= end)
		fail_msg("choose %s (fallback %d) rnd %" PRIu64 ": rc %d, addr 0x%" PRIx64
		         " in 0x%" PRIx64 "-0x%" PRIx64 " of %s (want 0x%" PRIx64 " in 0x%" PRIx64
		         "- of %s)",
		         region, fallback, rnd, rc, addr, start, end, chosen ? chosen : "-",
		         want_addr, want_start, want_region);
}

static void test_maps_choose(void **state)
{
	const uint64_t heap = 0x55d0c1e6e000ull, heap_len = 0x21000, stack = 0x7ffd4b7e6000ull;
	const uint64_t anon1 = 0x7f1c2e400000ull, anon1_len = 0x200000, anon2 = 0x7f1c2ea00000ull;
	const uint64_t anon_len = anon1_len + 0x3000;
	uint64_t addr, start, end;
	const char *chosen;
	char *noheap;

	(void)state;
	choose_ok(maps_text, "heap", 0, 0, heap, heap, "heap");
	choose_ok(maps_text, "heap", 1, 0x1234, heap + 0x1234, heap, "heap");
	choose_ok(maps_text, "heap", 0, heap_len - 1, heap + heap_len - 1, heap, "heap");
	choose_ok(maps_text, "heap", 0, heap_len, heap, heap, "heap"); /* modulo the size */
	choose_ok(maps_text, "heap", 0, UINT64_MAX, heap + UINT64_MAX % heap_len, heap, "heap");
	choose_ok(maps_text, "stack", 0, 17, stack + 17, stack, "stack");
	/* anon: the plain anonymous mapping, then the named one; nothing shared, read-only,
	 * file-backed or [vvar]. */
	choose_ok(maps_text, "anon", 0, 0, anon1, anon1, "anon");
	choose_ok(maps_text, "anon", 0, anon1_len - 1, anon1 + anon1_len - 1, anon1, "anon");
	choose_ok(maps_text, "anon", 0, anon1_len, anon2, anon2, "anon");
	choose_ok(maps_text, "anon", 0, anon_len - 1, anon2 + 0x2fff, anon2, "anon");
	choose_ok(maps_text, "anon", 0, anon_len, anon1, anon1, "anon");

	/* No heap: heap fails, unless falling back to anon. */
	noheap = strdup(maps_text);
	assert_non_null(noheap);
	memcpy(strstr(noheap, "[heap]"), "[hexp]", 6);
	assert_int_equal(mc__fault_maps_choose(noheap, "heap", 0, 5, &addr, &start, &end, &chosen),
	                 -ENOENT);
	choose_ok(noheap, "heap", 1, 5, anon1 + 5, anon1, "anon");
	free(noheap);

	/* Only unusable mappings. */
	assert_int_equal(mc__fault_maps_choose("1000-2000 r--p 0 00:00 0\n"
	                                       "3000-4000 rw-s 0 00:01 5 /dev/zero\n",
	                                       "anon", 1, 0, &addr, &start, &end, &chosen),
	                 -ENOENT);
	assert_int_equal(mc__fault_maps_choose("", "heap", 1, 0, &addr, &start, &end, &chosen),
	                 -ENOENT);
	assert_int_equal(
	        mc__fault_maps_choose(maps_text, "stack", 1, 0, &addr, &start, &end, &chosen), 0);
	assert_int_equal(mc__fault_maps_choose("1000-2000 rw-p 0 00:00 0 [heap]", "stack", 1, 0,
	                                       &addr, &start, &end, &chosen),
	                 -ENOENT); /* fallback is for heap only */
	assert_int_equal(
	        mc__fault_maps_choose(maps_text, "code", 1, 0, &addr, &start, &end, &chosen),
	        -EINVAL);
	assert_int_equal(mc__fault_maps_choose(maps_text, NULL, 1, 0, &addr, &start, &end, &chosen),
	                 -EINVAL);
}

/* ---- Clock drift computation (never applied to the host clock) ---------------------------- */

static void drift_ok(long ppm, long hz, long want_tick, long want_freq)
{
	long tick = -1, freq = -1;
	int rc = mc__fault_drift_compute(ppm, hz, &tick, &freq);

	if (rc != 0 || tick != want_tick || freq != want_freq)
		fail_msg("drift %ld ppm at USER_HZ %ld: rc %d, tick %ld freq %ld (want %ld, %ld)",
		         ppm, hz, rc, tick, freq, want_tick, want_freq);
}

static void test_drift_compute(void **state)
{
	long tick, freq;

	(void)state;
	drift_ok(0, 100, 10000, 0); /* nominal */
	drift_ok(100, 100, 10000, 100 * 65536);
	drift_ok(-1, 100, 10000, -65536);
	drift_ok(500, 100, 10000, 500 * 65536);
	drift_ok(-500, 100, 10000, -500 * 65536);
	drift_ok(501, 100, 10005, 65536);       /* 5 ticks of 100 ppm + 1 */
	drift_ok(750, 100, 10008, -50 * 65536); /* 7.5 ticks round away from zero */
	drift_ok(-750, 100, 9992, 50 * 65536);
	drift_ok(1000, 100, 10010, 0);
	drift_ok(12345, 100, 10123, 45 * 65536);
	drift_ok(100000, 100, 11000, 0);
	drift_ok(-100000, 100, 9000, 0);
	drift_ok(100500, 100, 11000, 500 * 65536); /* tick at its limit, freq does the rest */
	drift_ok(-100500, 100, 9000, -500 * 65536);
	drift_ok(2500, 1000, 1003, -500 * 65536); /* USER_HZ 1000: 1000 ppm a tick */
	/* USER_HZ 1024: nominal tick 976 us, a tick unit is 1e6 / 976 = 1024.59 ppm. */
	drift_ok(1300, 1024, 977, 1300 * 65536 - 67147541);
	assert_int_equal(mc__fault_drift_compute(100501, 100, &tick, &freq), -ERANGE);
	assert_int_equal(mc__fault_drift_compute(-100501, 100, &tick, &freq), -ERANGE);
	assert_int_equal(mc__fault_drift_compute(500000, 100, &tick, &freq), -ERANGE);
	assert_int_equal(mc__fault_drift_compute(-1000000, 100, &tick, &freq), -ERANGE);
	assert_int_equal(mc__fault_drift_compute(10, 0, &tick, &freq), -EINVAL);

	/* Across the range, tick and freq add up to exactly the asked drift. */
	for (long ppm = -100500; ppm <= 100500; ppm += 37) {
		assert_int_equal(mc__fault_drift_compute(ppm, 100, &tick, &freq), 0);
		assert_true(tick >= 9000 && tick <= 11000);
		assert_true(freq >= -500 * 65536 && freq <= 500 * 65536);
		assert_int_equal((tick - 10000) * 100 * 65536 + freq, ppm * 65536);
		if (ppm >= -500 && ppm <= 500)
			assert_int_equal(tick, 10000);
	}
}

/* ---- Bit flips ------------------------------------------------------------------------------ */

struct flip_seen {
	int nbits; /* bits that differ from the pattern */
	int byte;  /* where the last one is */
	int bit;
};

/* The child of test_flip: a known heap buffer; reports what changed in it when told. */
static void flip_child(int wfd, int rfd)
{
	unsigned char *buf = malloc(4096);
	struct flip_seen seen = {0, -1, -1};
	uint64_t addr;
	char go;

	if (!buf)
		_exit(1);
	memset(buf, 0x5a, 4096);
	addr = (uint64_t)(uintptr_t)buf;
	if (write(wfd, &addr, sizeof(addr)) != (ssize_t)sizeof(addr) || read(rfd, &go, 1) != 1)
		_exit(1);
	for (int i = 0; i < 4096; i++)
		for (int b = 0; b < 8; b++)
			if ((buf[i] ^ 0x5a) & (1 << b)) {
				seen.nbits++;
				seen.byte = i;
				seen.bit = b;
			}
	if (write(wfd, &seen, sizeof(seen)) != (ssize_t)sizeof(seen))
		_exit(1);
	_exit(0);
}

static void test_flip(void **state)
{
	int up[2], down[2], old_byte = -1, new_byte = -1, st;
	struct flip_seen seen;
	char err[512] = "";
	uint64_t addr;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		flip_child(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	assert_int_equal(read(up[0], &addr, sizeof(addr)), sizeof(addr));

	if (mc__fault_flip(pid, addr + 1234, 5, &old_byte, &new_byte, err, sizeof(err)) != 0)
		fail_msg("flip: %s", err);
	assert_int_equal(old_byte, 0x5a);
	assert_int_equal(new_byte, 0x5a ^ 0x20);
	/* Errors say what failed. */
	assert_int_equal(mc__fault_flip(pid, addr, 8, &old_byte, &new_byte, err, sizeof(err)),
	                 -EINVAL);
	assert_int_not_equal(mc__fault_flip(pid, 8, 0, &old_byte, &new_byte, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "read /proc/"));
	assert_int_not_equal(
	        mc__fault_flip(0x3ffffff0, addr, 0, &old_byte, &new_byte, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "open /proc/"));

	assert_int_equal(write(down[1], "g", 1), 1);
	assert_int_equal(read(up[0], &seen, sizeof(seen)), sizeof(seen));
	assert_int_equal(seen.nbits, 1);
	assert_int_equal(seen.byte, 1234);
	assert_int_equal(seen.bit, 5);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(up[0]);
	close(down[1]);
}

/* Reads one byte of pid's memory. */
static int peek(pid_t pid, uint64_t addr)
{
	char path[64];
	unsigned char b;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/mem", (long)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = pread(fd, &b, 1, (off_t)addr);
	close(fd);
	assert_int_equal(n, 1);
	return b;
}

static void test_bitflip_cli(void **state)
{
	char name[16], seedbuf[32];
	const char *regions[] = {"heap", "stack", "anon"};
	struct run r;
	json_t *j, *k;
	uint64_t addr, start, end;
	pid_t pid;
	int o, n;

	(void)state;
	snprintf(name, sizeof(name), "mcfb%ld", (long)getpid());
	pid = spawn_named(name);

	/* The default region is the heap; the same seed picks the same bit. */
	assert_int_equal(run_tool(&r, "bitflip", "--process", name, "--seed", "42", NULL), 0);
	j = expect_json(&r, "bitflip");
	assert_string_equal(json_string_value(json_object_get(j, "process")), name);
	assert_int_equal(jint(j, "pid"), pid);
	assert_string_equal(json_string_value(json_object_get(j, "region")), "heap");
	assert_string_equal(json_string_value(json_object_get(j, "seed")), "42");
	addr = strtoull(json_string_value(json_object_get(j, "address")), NULL, 16);
	assert_int_equal(sscanf(json_string_value(json_object_get(j, "mapping")),
	                        "0x%" SCNx64 "-0x%" SCNx64, &start, &end),
	                 2);
	assert_true(addr >= start && addr < end);
	o = (int)jint(j, "old");
	n = (int)jint(j, "new");
	assert_int_equal(o ^ n, 1 << jint(j, "bit"));
	assert_int_equal(peek(pid, addr), n);

	assert_int_equal(run_tool(&r, "bitflip", "--process", name, "--seed", "42", NULL), 0);
	k = expect_json(&r, "bitflip");
	assert_string_equal(json_string_value(json_object_get(k, "address")),
	                    json_string_value(json_object_get(j, "address")));
	assert_int_equal(jint(k, "bit"), jint(j, "bit"));
	assert_int_equal(jint(k, "old"), n); /* flipped back */
	assert_int_equal(jint(k, "new"), o);
	assert_int_equal(peek(pid, addr), o);
	json_decref(j);
	json_decref(k);

	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		snprintf(seedbuf, sizeof(seedbuf), "%zu", i + 7);
		assert_int_equal(run_tool(&r, "bitflip", "--process", name, "--region", regions[i],
		                          "--seed", seedbuf, NULL),
		                 0);
		j = expect_json(&r, "bitflip");
		assert_string_equal(json_string_value(json_object_get(j, "region")), regions[i]);
		addr = strtoull(json_string_value(json_object_get(j, "address")), NULL, 16);
		assert_int_equal(peek(pid, addr), jint(j, "new"));
		json_decref(j);
	}
	/* Without --seed it draws one and says which; any 64-bit seed is taken. */
	assert_int_equal(run_tool(&r, "bitflip", "--process", name, NULL), 0);
	j = expect_json(&r, "bitflip");
	assert_non_null(json_string_value(json_object_get(j, "seed")));
	json_decref(j);
	assert_int_equal(
	        run_tool(&r, "bitflip", "--process", name, "--seed", "18446744073709551615", NULL),
	        0);
	j = expect_json(&r, "bitflip");
	assert_string_equal(json_string_value(json_object_get(j, "seed")), "18446744073709551615");
	json_decref(j);
	kill_reap(pid);

	assert_int_equal(run_tool(&r, "bitflip", "--process", name, NULL), 0);
	expect_fail(&r, 3, "no process named");
	assert_int_equal(run_tool(&r, "bitflip", "--process", name, "--region", "code", NULL), 0);
	expect_fail(&r, 2, "heap, stack or anon");
	assert_int_equal(run_tool(&r, "bitflip", "--process", name, "--seed", "-1", NULL), 0);
	expect_fail(&r, 2, "--seed");
	assert_int_equal(
	        run_tool(&r, "bitflip", "--process", name, "--seed", "18446744073709551616", NULL),
	        0);
	expect_fail(&r, 2, "--seed");
}

/* ---- kill ------------------------------------------------------------------------------------ */

static void test_kill_cli(void **state)
{
	char name[16], odd[16], self_name[32], link[64], sig[8];
	const char *args[8];
	struct run r;
	pid_t a, b, c, lo, hi;
	json_t *j, *pids;
	int st;

	(void)state;
	snprintf(name, sizeof(name), "mcfk%ld", (long)getpid());
	a = spawn_named(name);
	b = spawn_named(name);
	lo = a < b ? a : b;
	hi = a < b ? b : a;
	assert_int_equal(run_tool(&r, "kill", "--process", name, "--signal", "TERM", NULL), 0);
	j = expect_json(&r, "kill");
	assert_string_equal(json_string_value(json_object_get(j, "process")), name);
	assert_int_equal(jint(j, "signal"), SIGTERM);
	pids = json_object_get(j, "pids");
	assert_int_equal(json_array_size(pids), 2);
	assert_int_equal(json_integer_value(json_array_get(pids, 0)), lo);
	assert_int_equal(json_integer_value(json_array_get(pids, 1)), hi);
	json_decref(j);
	assert_int_equal(waitpid(a, &st, 0), a);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_int_equal(waitpid(b, &st, 0), b);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);

	/* None left: exit 3. */
	assert_int_equal(run_tool(&r, "kill", "--process", name, NULL), 0);
	expect_fail(&r, 3, "no process named");

	/* Default KILL, a number, and a name that needs JSON escaping. */
	snprintf(odd, sizeof(odd), "m\"q\\%ld", (long)getpid() % 100000);
	c = spawn_named(odd);
	assert_int_equal(run_tool(&r, "kill", "--process", odd, NULL), 0);
	j = expect_json(&r, "kill");
	assert_string_equal(json_string_value(json_object_get(j, "process")), odd);
	assert_int_equal(jint(j, "signal"), SIGKILL);
	json_decref(j);
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	c = spawn_named(name);
	snprintf(sig, sizeof(sig), "%d", SIGUSR1);
	assert_int_equal(run_tool(&r, "kill", "--process", name, "--signal", sig, NULL), 0);
	json_decref(expect_json(&r, "kill"));
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);

	/* Never itself: run under a name (its comm) that only it has. */
	snprintf(self_name, sizeof(self_name), "mcfs%ld", (long)getpid());
	snprintf(link, sizeof(link), "/tmp/%s", self_name);
	unlink(link);
	assert_int_equal(symlink(MC_FAULT_PATH, link), 0);
	args[0] = self_name;
	args[1] = "kill";
	args[2] = "--process";
	args[3] = self_name;
	args[4] = NULL;
	assert_int_equal(run_at(&r, link, args), 0);
	unlink(link);
	expect_fail(&r, 3, "no process named");

	assert_int_equal(run_tool(&r, "kill", "--process", name, "--signal", "NOPE", NULL), 0);
	expect_fail(&r, 2, "--signal 'NOPE'");
}

/* ---- fill-memory and release ------------------------------------------------------------- */

static long vm_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void test_fill_memory_cli(void **state)
{
	char pidbuf[32], fd1[64], path[64];
	struct run r;
	pid_t holder, other;
	json_t *j;
	uint64_t t0;
	ssize_t n;
	int st;

	(void)state;
	assert_int_equal(run_tool(&r, "fill-memory", "--size", "16M", NULL), 0);
	j = expect_json(&r, "fill-memory");
	assert_int_equal(jint(j, "size"), 16 * MIB);
	assert_true(jint(j, "resident") >= 16 * MIB);
	assert_null(json_object_get(j, "for_ms"));
	holder = (pid_t)jint(j, "holder");
	json_decref(j);
	/* The holder holds it, detached: its own session, stdio on /dev/null. */
	assert_true(vm_rss_kib(holder) >= 16 * 1024);
	assert_int_not_equal(getsid(holder), getsid(0));
	snprintf(path, sizeof(path), "/proc/%ld/fd/1", (long)holder);
	n = readlink(path, fd1, sizeof(fd1) - 1);
	assert_true(n > 0);
	fd1[n] = '\0';
	assert_string_equal(fd1, "/dev/null");

	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)holder);
	assert_int_equal(run_tool(&r, "release", "--pid", pidbuf, NULL), 0);
	j = expect_json(&r, "release");
	assert_int_equal(jint(j, "pid"), holder);
	assert_true(json_is_true(json_object_get(j, "ended")));
	json_decref(j);
	/* We are its subreaper: it ended cleanly on SIGTERM. */
	assert_int_equal(wait_for(holder, 5000, &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(run_tool(&r, "release", "--pid", pidbuf, NULL), 0);
	expect_fail(&r, 3, "no process");

	/* --for: it ends by itself. */
	t0 = now_ms();
	assert_int_equal(run_tool(&r, "fill-memory", "--size", "4M", "--for", "300ms", NULL), 0);
	j = expect_json(&r, "fill-memory");
	assert_int_equal(jint(j, "for_ms"), 300);
	holder = (pid_t)jint(j, "holder");
	json_decref(j);
	assert_int_equal(wait_for(holder, 10000, &st), 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(now_ms() - t0 >= 300);

	/* release refuses what is not a holder. */
	other = spawn_named("mcf-other");
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)other);
	assert_int_equal(run_tool(&r, "release", "--pid", pidbuf, NULL), 0);
	expect_fail(&r, 1, "is not an mc-fault holder");
	assert_int_equal(waitpid(other, &st, WNOHANG), 0); /* untouched */
	kill_reap(other);

	/* More than there is to map fails and says so. */
	assert_int_equal(run_tool(&r, "fill-memory", "--size", "8000T", NULL), 0);
	expect_fail(&r, 1, "fill-memory: mmap");
	/* Its holder gave up and was orphaned to us: reap it. */
	for (t0 = now_ms(); waitpid(-1, &st, WNOHANG) <= 0 && now_ms() - t0 < 5000;)
		sleep_ms(10);
}

/* ---- disk-full, on a 4 MiB tmpfs in a private mount namespace ------------------------------ */

#define DF_FAIL(...)                                                                               \
	do {                                                                                       \
		fprintf(stderr, "disk-full child: " __VA_ARGS__);                                  \
		fputc('\n', stderr);                                                               \
		return 1;                                                                          \
	} while (0)

static uint64_t df_free(const char *dir)
{
	struct statvfs sv;

	if (statvfs(dir, &sv) < 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bfree * sv.f_frsize;
}

/* The disk-full checks, in the forked child (no cmocka here). Returns 0 when all held. */
static int disk_full_checks(const char *dir)
{
	char file[256], small[256], why[70000], errbuf[256];
	uint64_t free0, bytes = 0;
	struct run r;
	json_t *j;
	int fd, used_write = 0;
	struct statfs sfs;
	pid_t holder;
	uint64_t deadline;

	snprintf(file, sizeof(file), "%s/.mc-fault-fill", dir);
	snprintf(small, sizeof(small), "%s/small", dir);
	/* Never fill anything but the small tmpfs of this test. */
	if (statfs(dir, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC ||
	    (uint64_t)sfs.f_blocks * (uint64_t)sfs.f_bsize > 8 * MIB)
		DF_FAIL("%s is not the 4 MiB tmpfs this test mounted; not filling it", dir);
	free0 = df_free(dir);
	if (free0 < 3 * MIB)
		DF_FAIL("a 4 MiB tmpfs has %" PRIu64 " bytes free", free0);

	/* Fill: nothing is left, and a write fails with ENOSPC. */
	if (run_tool(&r, "disk-full", "--path", dir, NULL) < 0 || r.status != 0)
		DF_FAIL("disk-full exited %d: %s", r.status, r.err);
	j = run_json(&r, why, sizeof(why));
	if (!j)
		DF_FAIL("%s", why);
	if (strcmp(json_string_value(json_object_get(j, "method")), "fallocate") != 0 ||
	    strcmp(json_string_value(json_object_get(j, "file")), file) != 0 ||
	    json_integer_value(json_object_get(j, "bytes")) < (json_int_t)(free0 - 64 * 1024) ||
	    json_integer_value(json_object_get(j, "free")) > 64 * 1024)
		DF_FAIL("unexpected JSON: %s", r.out);
	json_decref(j);
	if (df_free(dir) > 64 * 1024)
		DF_FAIL("after disk-full, %" PRIu64 " bytes are still free", df_free(dir));
	fd = open(small, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		DF_FAIL("create %s: %s", small, strerror(errno));
	memset(why, 1, 65536);
	errno = 0;
	if (write(fd, why, 65536) >= 0 || errno != ENOSPC)
		DF_FAIL("a 64 KiB write on the full file system did not fail with ENOSPC (%s)",
		        strerror(errno));
	close(fd);
	unlink(small);

	/* Undo: the space is back; a second undo finds nothing. */
	if (run_tool(&r, "disk-full", "--undo", "--path", dir, NULL) < 0 || r.status != 0)
		DF_FAIL("disk-full --undo exited %d: %s", r.status, r.err);
	j = run_json(&r, why, sizeof(why));
	if (!j || !json_is_true(json_object_get(j, "undo")))
		DF_FAIL("unexpected undo output: %s", r.out);
	json_decref(j);
	if (access(file, F_OK) == 0)
		DF_FAIL("%s is still there after --undo", file);
	if (df_free(dir) + 64 * 1024 < free0)
		DF_FAIL("after --undo only %" PRIu64 " of %" PRIu64 " bytes are free", df_free(dir),
		        free0);
	if (run_tool(&r, "disk-full", "--undo", "--path", dir, NULL) < 0 || r.status != 3 ||
	    !strstr(r.err, "No such file"))
		DF_FAIL("a second --undo exited %d (want 3): %s", r.status, r.err);

	/* --for: a holder removes the file afterwards. */
	if (run_tool(&r, "disk-full", "--path", dir, "--for", "500ms", NULL) < 0 || r.status != 0)
		DF_FAIL("disk-full --for exited %d: %s", r.status, r.err);
	j = run_json(&r, why, sizeof(why));
	if (!j || json_integer_value(json_object_get(j, "for_ms")) != 500)
		DF_FAIL("unexpected --for output: %s", r.out);
	holder = (pid_t)json_integer_value(json_object_get(j, "holder"));
	json_decref(j);
	if (holder <= 1 || df_free(dir) > 64 * 1024)
		DF_FAIL("disk-full --for: holder %ld, %" PRIu64 " bytes free", (long)holder,
		        df_free(dir));
	deadline = now_ms() + 10000;
	while (access(file, F_OK) == 0 && now_ms() < deadline)
		sleep_ms(20);
	if (access(file, F_OK) == 0 || df_free(dir) + 64 * 1024 < free0)
		DF_FAIL("the holder did not remove %s", file);
	if (wait_for(holder, 5000, &fd) < 0)
		DF_FAIL("the holder %ld did not end", (long)holder);

	/* The write fallback fills as well. */
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		DF_FAIL("create %s: %s", file, strerror(errno));
	if (mc__fault_fill_fd(fd, 1, &bytes, &used_write, errbuf, sizeof(errbuf)) < 0)
		DF_FAIL("fill by writing: %s", errbuf);
	close(fd);
	if (!used_write || bytes + 64 * 1024 < free0 || df_free(dir) > 64 * 1024)
		DF_FAIL("fill by writing: used_write %d, %" PRIu64 " bytes, %" PRIu64 " free",
		        used_write, bytes, df_free(dir));
	unlink(file);

	if (run_tool(&r, "disk-full", "--path", "/nonexistent/mcf", NULL) < 0 || r.status != 1 ||
	    !strstr(r.err, "directory /nonexistent/mcf"))
		DF_FAIL("disk-full on a missing directory exited %d: %s", r.status, r.err);
	return 0;
}

static void test_disk_full(void **state)
{
	char dir[] = "/tmp/mcf-disk-XXXXXX";
	pid_t pid;
	int st;

	(void)state;
	need_root();
	assert_non_null(mkdtemp(dir));
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;

		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("mcf-tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700") < 0) {
			fprintf(stderr, "disk-full child: mount a tmpfs on %s: %s\n", dir,
			        strerror(errno));
			_exit(1);
		}
		rc = disk_full_checks(dir);
		umount2(dir, MNT_DETACH);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	rmdir(dir);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("the disk-full checks failed (status 0x%x; see stderr)", st);
}

/* ---- Command line ---------------------------------------------------------------------------- */

static void test_usage_cli(void **state)
{
	static const char *const subs[] = {"kill",        "clock-jump", "clock-drift", "bitflip",
	                                   "fill-memory", "disk-full",  "release"};
	char want[64];
	struct run r;

	(void)state;
	assert_int_equal(run_tool(&r, "--help", NULL), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: mc-fault SUBCOMMAND"));
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		assert_int_equal(run_tool(&r, subs[i], "--help", NULL), 0);
		snprintf(want, sizeof(want), "usage: mc-fault %s", subs[i]);
		if (r.status != 0 || !strstr(r.out, want))
			fail_msg("%s --help: exit %d, stdout \"%s\"", subs[i], r.status, r.out);
	}
	assert_int_equal(run_tool(&r, NULL), 0);
	expect_fail(&r, 2, "usage: mc-fault");
	assert_int_equal(run_tool(&r, "explode", NULL), 0);
	expect_fail(&r, 2, "unknown subcommand 'explode'");
	assert_int_equal(run_tool(&r, "kill", NULL), 0);
	expect_fail(&r, 2, "--process is required");
	assert_int_equal(run_tool(&r, "kill", "--process", NULL), 0);
	expect_fail(&r, 2, "needs a value");
	assert_int_equal(run_tool(&r, "kill", "--process", "x", "--size", "1M", NULL), 0);
	expect_fail(&r, 2, "unknown option '--size'");
	assert_int_equal(run_tool(&r, "kill", "--process", "x", "extra", NULL), 0);
	expect_fail(&r, 2, "unexpected argument 'extra'");
	assert_int_equal(run_tool(&r, "fill-memory", "--size", "lots", NULL), 0);
	expect_fail(&r, 2, "--size 'lots'");
	assert_int_equal(run_tool(&r, "fill-memory", "--size", "1M", "--for", "-1s", NULL), 0);
	expect_fail(&r, 2, "--for '-1s'");
	assert_int_equal(run_tool(&r, "disk-full", "--undo", "--for", "1s", "--path",
	                          "/nonexistent/mcf", NULL),
	                 0);
	expect_fail(&r, 2, "--undo takes no --for");
	assert_int_equal(run_tool(&r, "release", "--pid", "1x", NULL), 0);
	expect_fail(&r, 2, "--pid '1x'");
	assert_int_equal(run_tool(&r, "release", NULL), 0);
	expect_fail(&r, 2, "--pid is required");
	/* Clock subcommands only as far as their parsing: the host clock is not ours. */
	assert_int_equal(run_tool(&r, "clock-jump", "--offset", "5x", NULL), 0);
	expect_fail(&r, 2, "--offset '5x'");
	assert_int_equal(run_tool(&r, "clock-jump", NULL), 0);
	expect_fail(&r, 2, "--offset is required");
	assert_int_equal(run_tool(&r, "clock-drift", "--ppm", "fast", NULL), 0);
	expect_fail(&r, 2, "--ppm 'fast'");
	assert_int_equal(run_tool(&r, "clock-drift", "--ppm", "5", "--for", "0s", NULL), 0);
	expect_fail(&r, 2, "--for '0s'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_duration),  cmocka_unit_test(test_parse_size),
	        cmocka_unit_test(test_parse_signal),    cmocka_unit_test(test_rng),
	        cmocka_unit_test(test_maps_parse_line), cmocka_unit_test(test_maps_choose),
	        cmocka_unit_test(test_drift_compute),   cmocka_unit_test(test_flip),
	        cmocka_unit_test(test_bitflip_cli),     cmocka_unit_test(test_kill_cli),
	        cmocka_unit_test(test_fill_memory_cli), cmocka_unit_test(test_disk_full),
	        cmocka_unit_test(test_usage_cli),
	};

	/* Holders are orphans by design: become their reaper so tests can wait for them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
