/* cmd_pause.c — `microcosm pause` and `microcosm resume`: stop or continue guests' vCPUs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"

static int pause_resume(int argc, char **argv, const char *op, const char *usage)
{
	struct mc_target_opts o;
	struct mc_client *cl;
	char err[512];
	int r, failures = 0;

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
	for (;;) {
		json_t *m = NULL;
		const char *type;

		if (mc_client_recv(cl, 60000, &m, NULL, NULL) < 0) {
			fprintf(stderr, "microcosm %s: controller did not answer\n", op);
			failures++;
			break;
		}
		type = json_string_value(json_object_get(m, "type"));
		if (type && strcmp(type, "result") == 0) {
			const char *e = json_string_value(json_object_get(m, "error"));

			if (e) {
				failures++;
				fprintf(stderr, "%s: %s: %s\n",
				        json_string_value(json_object_get(m, "guest")), op, e);
			} else {
				printf("%s: %s\n", json_string_value(json_object_get(m, "guest")),
				       json_string_value(json_object_get(m, "state")));
			}
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

int cmd_pause(int argc, char **argv)
{
	return pause_resume(argc, argv, "pause", mc_pause_usage);
}

int cmd_resume(int argc, char **argv)
{
	return pause_resume(argc, argv, "resume", mc_resume_usage);
}
