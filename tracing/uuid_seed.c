/* uuid_seed.c — libmc-uuid-seed.so, preloaded into the guests' lttng-sessiond.
 *
 * LTTng-tools 2.13 generates its session daemon and session UUIDs with rand() after
 * srand(time(NULL)). Clones of one template start their daemons in the same second with
 * the same pids, so they would all get the same UUIDs, and the host's relay daemon, which
 * tells sessions apart by them, would merge every guest's trace into one. This library
 * mixes fresh kernel randomness (each clone reseeds its RNG with its own identity) into
 * that seed.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/random.h>

void srand(unsigned int seed)
{
	static void (*real_srand)(unsigned int);
	unsigned int r = 0;

	if (!real_srand)
		*(void **)&real_srand = dlsym(RTLD_NEXT, "srand");
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	if (real_srand)
		real_srand(seed ^ r);
}
