/* cmd_migrate.c — `microcosm migrate`: live-migrate guests to new QEMU processes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"

struct print_ctx {
	int json, header;
};

static void print_migration(void *ctx, json_t *m)
{
	struct print_ctx *pc = ctx;

	if (pc->json) {
		json_object_del(m, "type");
		json_dumpf(m, stdout, JSON_COMPACT);
		putchar('\n');
		return;
	}
	if (!pc->header++)
		printf("%-8s %9s %9s %9s %9s %6s %s\n", "GUEST", "TOTAL_MS", "DOWN_MS", "SETUP_MS",
		       "SENT_MIB", "PASSES", "HOSTS");
	printf("%-8s %9lld %9lld %9lld %9.1f %6lld %s%s%s\n",
	       json_string_value(json_object_get(m, "guest")),
	       (long long)json_integer_value(json_object_get(m, "total_ms")),
	       (long long)json_integer_value(json_object_get(m, "downtime_ms")),
	       (long long)json_integer_value(json_object_get(m, "setup_ms")),
	       (double)json_integer_value(json_object_get(m, "bytes")) / (1 << 20),
	       (long long)json_integer_value(json_object_get(m, "passes")),
	       json_string_value(json_object_get(m, "from_host")) ?: "",
	       json_object_get(m, "to_host") ? " -> " : "",
	       json_string_value(json_object_get(m, "to_host")) ?: "");
}

int cmd_migrate(int argc, char **argv)
{
	struct mc_target_opts o;
	struct mc_client *cl;
	char err[512];
	int r, failures;
	struct print_ctx pc = {0};

	r = mc_cli_parse_target(argc, argv, &o, mc_migrate_usage);
	if (r)
		return r > 0 ? 0 : 2;
	pc.json = o.json;
	cl = mc_client_connect(&o.c, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "microcosm migrate: %s\n", err);
		return 1;
	}
	if (mc_client_send(cl, json_pack("{s:s, s:s, s:s, s:s}", "op", "migrate", "target",
	                                 o.target, "mode",
	                                 o.stop == 1   ? "stop"
	                                 : o.stop == 2 ? "live"
	                                               : "auto",
	                                 "to", o.to)) < 0) {
		mc_client_destroy(&cl);
		return 1;
	}
	/* A migration gives up after 180 s; wait a little longer than that. */
	failures = mc_client_results(cl, "migrate", 240000, print_migration, &pc);
	mc_client_destroy(&cl);
	return failures ? 1 : 0;
}
