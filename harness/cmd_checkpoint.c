/* cmd_checkpoint.c — `microcosm checkpoint` and `microcosm restore`: a guest's whole state to
 * files and back (ctl_checkpoint.c does the work). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"

struct print_ctx {
	int json, header, checkpoint;
};

static void print_result(void *ctx, json_t *m)
{
	struct print_ctx *pc = ctx;
	const char *g = json_string_value(json_object_get(m, "guest"));

	if (pc->json) {
		json_object_del(m, "type");
		json_dumpf(m, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (pc->checkpoint) {
		if (!pc->header++)
			printf("%-8s %9s %9s %9s %s\n", "GUEST", "PAUSE_MS", "STATE_MIB",
			       "DISK_MIB", "DIR");
		printf("%-8s %9lld %9.1f %9.1f %s\n", g,
		       (long long)json_integer_value(json_object_get(m, "paused_ms")),
		       (double)json_integer_value(json_object_get(m, "state_bytes")) / (1 << 20),
		       (double)json_integer_value(json_object_get(m, "disk_bytes")) / (1 << 20),
		       json_string_value(json_object_get(m, "dir")));
	} else {
		if (!pc->header++)
			printf("%-8s %9s %s\n", "GUEST", "TOTAL_MS", "STATE");
		printf("%-8s %9lld %s\n", g,
		       (long long)json_integer_value(json_object_get(m, "total_ms")),
		       json_string_value(json_object_get(m, "state")));
	}
}

static int checkpoint_restore(int argc, char **argv, const char *op, const char *usage)
{
	struct mc_target_opts o;
	struct mc_client *cl;
	char err[512];
	int r, failures;
	struct print_ctx pc = {0};
	json_t *req;

	r = mc_cli_parse_target(argc, argv, &o, usage);
	if (r)
		return r > 0 ? 0 : 2;
	pc.json = o.json;
	pc.checkpoint = !strcmp(op, "checkpoint");
	cl = mc_client_connect(&o.c, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "microcosm %s: %s\n", op, err);
		return 1;
	}
	req = json_pack("{s:s, s:s}", "op", op, "target", o.target);
	if (o.dir[0])
		json_object_set_new(req, "dir", json_string(o.dir));
	if (mc_client_send(cl, req) < 0) {
		mc_client_destroy(&cl);
		return 1;
	}
	failures = mc_client_results(cl, op, 300000, print_result, &pc);
	mc_client_destroy(&cl);
	return failures ? 1 : 0;
}

int cmd_checkpoint(int argc, char **argv)
{
	return checkpoint_restore(argc, argv, "checkpoint", mc_checkpoint_usage);
}

int cmd_restore(int argc, char **argv)
{
	return checkpoint_restore(argc, argv, "restore", mc_restore_usage);
}
