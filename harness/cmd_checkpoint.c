/* cmd_checkpoint.c — `microcosm checkpoint` and `microcosm restore`: a guest's whole state to
 * files and back (ctl_checkpoint.c does the work). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"

static int checkpoint_restore(int argc, char **argv, const char *op, const char *usage)
{
	struct mc_target_opts o;
	struct mc_client *cl;
	char err[512];
	int r, failures = 0, header = 0;
	json_t *req;

	r = mc_cli_parse_target(argc, argv, &o, usage);
	if (r)
		return r > 0 ? 0 : 2;
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
	for (;;) {
		json_t *m = NULL;
		const char *type;

		if (mc_client_recv(cl, 300000, &m, NULL, NULL) < 0) {
			fprintf(stderr, "microcosm %s: controller did not answer\n", op);
			failures++;
			break;
		}
		type = json_string_value(json_object_get(m, "type"));
		if (type && strcmp(type, "result") == 0) {
			const char *g = json_string_value(json_object_get(m, "guest"));
			const char *e = json_string_value(json_object_get(m, "error"));

			if (e) {
				failures++;
				fprintf(stderr, "%s: %s: %s\n", g, op, e);
			} else if (o.json) {
				json_object_del(m, "type");
				json_dumpf(m, stdout, JSON_COMPACT);
				putchar('\n');
			} else if (!strcmp(op, "checkpoint")) {
				if (!header++)
					printf("%-8s %9s %9s %9s %s\n", "GUEST", "PAUSE_MS",
					       "STATE_MIB", "DISK_MIB", "DIR");
				printf("%-8s %9lld %9.1f %9.1f %s\n", g,
				       (long long)json_integer_value(
				               json_object_get(m, "paused_ms")),
				       (double)json_integer_value(
				               json_object_get(m, "state_bytes")) /
				               (1 << 20),
				       (double)json_integer_value(
				               json_object_get(m, "disk_bytes")) /
				               (1 << 20),
				       json_string_value(json_object_get(m, "dir")));
			} else {
				if (!header++)
					printf("%-8s %9s %s\n", "GUEST", "TOTAL_MS", "STATE");
				printf("%-8s %9lld %s\n", g,
				       (long long)json_integer_value(
				               json_object_get(m, "total_ms")),
				       json_string_value(json_object_get(m, "state")));
			}
			fflush(stdout);
		} else if (type && strcmp(type, "error") == 0) {
			fprintf(stderr, "microcosm %s: %s\n", op,
			        json_string_value(json_object_get(m, "error")));
			failures++;
			json_decref(m);
			break;
		} else if (type && strcmp(type, "done") == 0) {
			json_decref(m);
			break;
		}
		json_decref(m);
	}
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
