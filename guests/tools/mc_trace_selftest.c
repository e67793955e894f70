/* mc_trace_selftest.c — `mc-trace-selftest`: a traced program to check a tracing session.
 *
 * Emits COUNT events mc_trace_selftest:hello (seq 0..COUNT-1, count, hostname) and prints
 * {"events":COUNT,"pid":…,"host":…}. Linked with LTTng-UST, so installing it in the guests'
 * base disk also brings liblttng-ust and liblttng-ust-tracepoint (its ldd closure) into
 * /data/opt/microcosm/lib for every traced program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mc_trace_selftest_tp.h"

int main(int argc, char **argv)
{
	char host[64] = "";
	long count = 10;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(stderr, "usage: mc-trace-selftest [COUNT]\n"
		                "Emits COUNT (default 10) events mc_trace_selftest:hello.\n");
		return argc == 2 ? 0 : 2;
	}
	if (argc == 2) {
		char *end;

		count = strtol(argv[1], &end, 10);
		if (*end || end == argv[1] || count < 0 || count > 100000000) {
			fprintf(stderr, "mc-trace-selftest: COUNT '%s': not a number\n", argv[1]);
			return 2;
		}
	}
	gethostname(host, sizeof(host) - 1);
	for (long i = 0; i < count; i++)
		lttng_ust_tracepoint(mc_trace_selftest, hello, (int)i, (int)count, host);
	printf("{\"events\":%ld,\"pid\":%d,\"host\":\"%s\"}\n", count, (int)getpid(), host);
	return 0;
}
