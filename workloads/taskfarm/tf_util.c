/* tf_util.c — clocks, randomness and option-value parsing for mc-taskfarm. */
#include "tf_util.h"
#include "tf_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int64_t mc_tf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mc_tf_random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		v = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
	}
	return v ? v : 1;
}

int mc_tf_parse_u64(const char *role, const char *opt, const char *arg, uint64_t lo, uint64_t hi,
                    uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (arg[0] >= '0' && arg[0] <= '9') {
		v = strtoull(arg, &end, 10);
		if (errno == 0 && *end == '\0' && v >= lo && v <= hi) {
			*out = v;
			return 0;
		}
	}
	fprintf(stderr, "mc-taskfarm %s: %s '%s': want an integer in [%llu, %llu]\n", role, opt,
	        arg, (unsigned long long)lo, (unsigned long long)hi);
	return -EINVAL;
}

const char *mc_tf_bad_opt_name(char **argv, int optind_now, int optopt_now, char *buf, size_t cap)
{
	if (optopt_now > 0 && optopt_now < 128) {
		snprintf(buf, cap, "-%c", optopt_now);
		return buf;
	}
	return argv[optind_now - 1];
}

int mc_tf_valid_name(const char *s, size_t len)
{
	if (len == 0 || len > MC_TF_WIRE_MAX_NAME)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void mc_tf_hex(const void *data, size_t len, char *buf, size_t cap)
{
	const unsigned char *p = data;
	size_t off = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < len && i < 8 && off + 3 <= cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%02x", p[i]);
}
