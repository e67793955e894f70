/* cmd_rsh.c — `microcosm rsh HOST COMMAND…`: one shell command on one guest, ssh-style (the MPI
 * launcher Hydra uses it as its remote shell). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

/* Guest name for HOST: an address in the cluster's 10.77.0.0/16 becomes the
 * name of the guest that owns it; a name or an index is kept. Returns 0 or
 * -1 when HOST cannot name exactly one guest. */
static int host_target(const char *host, char *buf, size_t cap)
{
	struct in_addr a;

	if (inet_pton(AF_INET, host, &a) == 1) {
		uint32_t h = ntohl(a.s_addr);

		if ((h & 0xffff0000u) != 0x0a4d0000u || (h & 0xffffu) < 2)
			return -1;
		snprintf(buf, cap, "g%04u", (h & 0xffffu) - 2);
		return 0;
	}
	if (strcmp(host, "all") == 0 || strpbrk(host, ",-"))
		return -1;
	snprintf(buf, cap, "%s", host);
	return 0;
}

int cmd_rsh(int argc, char **argv)
{
	struct mc_rsh_opts o;
	struct mc_exec_opts e;
	char *sh_argv[4] = {"sh", "-c", NULL, NULL};
	size_t len = 0;
	int r = mc_cli_parse_rsh(argc, argv, &o);

	if (r)
		return r > 0 ? 0 : 255;
	memset(&e, 0, sizeof(e));
	e.c = o.c;
	if (host_target(o.host, e.target, sizeof(e.target))) {
		fprintf(stderr, "microcosm rsh: HOST '%s': not one guest of cluster '%s'\n", o.host,
		        o.c.cluster);
		return 255;
	}
	for (int i = 0; i < o.argc; i++)
		len += strlen(o.argv[i]) + 1;
	sh_argv[2] = calloc(1, len + 1);
	if (!sh_argv[2])
		return 255;
	for (int i = 0; i < o.argc; i++) {
		if (i)
			strcat(sh_argv[2], " ");
		strcat(sh_argv[2], o.argv[i]);
	}
	e.argc = 3;
	e.argv = sh_argv;
	r = mc_exec_session(&e, 1);
	free(sh_argv[2]);
	return r;
}
