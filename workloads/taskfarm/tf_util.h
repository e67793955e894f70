/* tf_util.h — clocks, randomness and option-value parsing shared by mc-taskfarm's roles. */
#ifndef MC_TF_UTIL_H
#define MC_TF_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Milliseconds on the monotonic clock (arbitrary origin). */
int64_t mc_tf_now_ms(void);

/* A random non-zero 64-bit value from the kernel's generator (falls back to the
 * clock and pid if getrandom() fails: uniqueness matters here, not secrecy). */
uint64_t mc_tf_random_u64(void);

/* Parses arg as a decimal integer in [lo, hi] into *out. On failure prints
 * "mc-taskfarm <role>: <opt> '<arg>': want an integer in [lo, hi]" to stderr and
 * returns -EINVAL; *out is untouched. */
int mc_tf_parse_u64(const char *role, const char *opt, const char *arg, uint64_t lo, uint64_t hi,
                    uint64_t *out);

/* The option getopt_long() just complained about, for messages: "-x" for a short
 * option (from optopt, which is right even inside a cluster such as -qx), else the
 * argument itself ("--bogus"). buf is caller-owned; returns buf or an argv string. */
const char *mc_tf_bad_opt_name(char **argv, int optind_now, int optopt_now, char *buf, size_t cap);

/* Whether s is a usable worker name: 1..MC_TF_WIRE_MAX_NAME of [A-Za-z0-9._-]. */
int mc_tf_valid_name(const char *s, size_t len);

/* Writes up to 8 bytes of a ZeroMQ routing id as hex into buf (for log lines). */
void mc_tf_hex(const void *data, size_t len, char *buf, size_t cap);

#endif
