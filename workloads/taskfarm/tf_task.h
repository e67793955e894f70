/* tf_task.h — the farm's unit of work: repeated squaring modulo N = p*q, cheap to verify. */
#ifndef MC_TF_TASK_H
#define MC_TF_TASK_H

#include <stdint.h>

/*
 * Task t of a run with seed s starts from x0 = mix(t, s) mod N and squares it
 * `iters` times modulo N. The chain is sequential: a worker has to do every
 * squaring (about task-ms of CPU, as calibrated by the coordinator). N = p*q for
 * two 32-bit primes derived from the seed; only the coordinator knows them, so it
 * verifies a result with two short modular exponentiations (Euler, then the
 * Chinese remainder theorem) instead of redoing the work. This catches corrupted
 * or confused results; it is not a defence against a worker that factors N.
 */

/* The run's parameters; plain data, embed or copy freely. */
struct mc_tf_task_params {
	uint64_t seed;    /* run seed */
	uint64_t p, q;    /* the secret 32-bit primes, p != q */
	uint64_t modulus; /* p * q, sent to workers */
	uint64_t iters;   /* squarings per task */
};

/* Derives p, q and the modulus from seed (deterministic) and stores iters. */
void mc_tf_task_params_init(struct mc_tf_task_params *tp, uint64_t seed, uint64_t iters);

/* Task's start value, in [2, modulus). modulus >= 3. */
uint64_t mc_tf_task_start(uint32_t task, uint64_t seed, uint64_t modulus);

/* Squares x (< modulus) count times modulo modulus (>= 3) and returns the result.
 * Cost is linear in count: callers compute in chunks and poll in between. */
uint64_t mc_tf_task_step(uint64_t x, uint64_t modulus, uint64_t count);

/* The value a worker must return for task, computed in microseconds from the
 * secret factors. */
uint64_t mc_tf_task_expect(const struct mc_tf_task_params *tp, uint32_t task);

/* Squarings per millisecond of this thread's CPU time, measured for about
 * budget_ms of CPU (>= 1). */
uint64_t mc_tf_task_calibrate(unsigned budget_ms);

#endif
