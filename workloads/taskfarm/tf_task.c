/* tf_task.c — repeated modular squaring (the work) and its verification by the CRT. */
#include "tf_task.h"

#include <time.h>

__extension__ typedef unsigned __int128 u128;

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	return (uint64_t)((u128)a * b % m);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
	uint64_t r = 1 % m;

	b %= m;
	while (e) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Deterministic Miller-Rabin for n < 2^32 (bases 2, 7, 61 suffice below 4.7e9). */
static int is_prime32(uint64_t n)
{
	static const uint64_t bases[] = {2, 7, 61};
	uint64_t d = n - 1;
	unsigned s = 0;

	if (n < 2 || n % 2 == 0)
		return n == 2;
	while (d % 2 == 0) {
		d /= 2;
		s++;
	}
	for (unsigned i = 0; i < 3; i++) {
		uint64_t a = bases[i] % n, x;
		unsigned r;

		if (a == 0)
			continue;
		x = powmod(a, d, n);
		if (x == 1 || x == n - 1)
			continue;
		for (r = 1; r < s; r++) {
			x = mulmod(x, x, n);
			if (x == n - 1)
				break;
		}
		if (r == s)
			return 0;
	}
	return 1;
}

/* A prime in [3 * 2^30, 2^32) from the generator, so p * q > 2^63 fits 64 bits. */
static uint64_t next_prime32(uint64_t *state)
{
	for (;;) {
		uint64_t c = (splitmix64(state) >> 32) | 0xc0000001ull;

		if (is_prime32(c))
			return c;
	}
}

void mc_tf_task_params_init(struct mc_tf_task_params *tp, uint64_t seed, uint64_t iters)
{
	uint64_t st = seed;

	tp->seed = seed;
	tp->iters = iters;
	tp->p = next_prime32(&st);
	do
		tp->q = next_prime32(&st);
	while (tp->q == tp->p);
	tp->modulus = tp->p * tp->q;
}

uint64_t mc_tf_task_start(uint32_t task, uint64_t seed, uint64_t modulus)
{
	uint64_t st = seed ^ ((uint64_t)task * 0xd6e8feb86659fd93ull);
	uint64_t x = splitmix64(&st) % modulus;

	return x < 2 ? 2 : x;
}

uint64_t mc_tf_task_step(uint64_t x, uint64_t modulus, uint64_t count)
{
	while (count--)
		x = mulmod(x, x, modulus);
	return x;
}

/* x^(2^iters) mod prime p by Fermat: reduce the exponent modulo p - 1. */
static uint64_t square_chain_mod_prime(uint64_t x, uint64_t iters, uint64_t p)
{
	uint64_t a = x % p;

	if (a == 0)
		return 0;
	return powmod(a, powmod(2, iters, p - 1), p);
}

uint64_t mc_tf_task_expect(const struct mc_tf_task_params *tp, uint32_t task)
{
	uint64_t x = mc_tf_task_start(task, tp->seed, tp->modulus);
	uint64_t rp = square_chain_mod_prime(x, tp->iters, tp->p);
	uint64_t rq = square_chain_mod_prime(x, tp->iters, tp->q);
	uint64_t pinv = powmod(tp->p % tp->q, tp->q - 2, tp->q);
	uint64_t k = mulmod((rq + tp->q - rp % tp->q) % tp->q, pinv, tp->q);

	return rp + tp->p * k; /* < p + p * (q - 1) = N */
}

/* CPU time of the calling thread, in ns: calibration measures CPU, not wall time,
 * so a busy host does not make tasks longer than asked. */
static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t mc_tf_task_calibrate(unsigned budget_ms)
{
	struct mc_tf_task_params tp;
	int64_t t0 = thread_cpu_ns(), budget = (int64_t)(budget_ms ? budget_ms : 1) * 1000000, el;
	uint64_t n = 0, x;

	mc_tf_task_params_init(&tp, 1, 0);
	x = mc_tf_task_start(0, 1, tp.modulus);
	do {
		x = mc_tf_task_step(x, tp.modulus, 4096);
		n += 4096;
		el = thread_cpu_ns() - t0;
	} while (el < budget);
	/* Keeps x live so the loop is not optimised away. */
	if (x == 0)
		n++;
	return n * 1000000 / (uint64_t)el ? n * 1000000 / (uint64_t)el : 1;
}
