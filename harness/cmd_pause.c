/* cmd_pause.c — `microcosm pause` and `microcosm resume`: stop or continue guests' vCPUs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"

static void print_state(void *ctx, json_t *r)
{
	(void)ctx;
	printf("%s: %s\n", json_string_value(json_object_get(r, "guest")),
	       json_string_value(json_object_get(r, "state")));
}

static int pause_resume(int argc, char **argv, const char *op, const char *usage)
{
	struct mc_target_opts o;
	struct mc_client *cl;
	char err[512];
	int r, failures;

	r = mc_cli_parse_target(argc, argv, &o, usage);
	if (r)
		return r > 0 ? 0 : 2;
	cl = mc_client_connect(&o.c, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "microcosm %s: %s\n", op, err);
		return 1;
	}
	if (mc_client_send(cl, json_pack("{s:s, s:s}", "op", op, "target", o.target)) < 0) {
		mc_client_destroy(&cl);
		return 1;
	}
	failures = mc_client_results(cl, op, 60000, print_state, NULL);
	mc_client_destroy(&cl);
	return failures ? 1 : 0;
}

int cmd_pause(int argc, char **argv)
{
	return pause_resume(argc, argv, "pause", mc_pause_usage);
}

int cmd_resume(int argc, char **argv)
{
	return pause_resume(argc, argv, "resume", mc_resume_usage);
}
