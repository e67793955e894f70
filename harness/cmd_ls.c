/* cmd_ls.c — `microcosm ls`: the guests of a running cluster and their state. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"

int cmd_ls(int argc, char **argv)
{
	struct mc_simple_opts o;
	struct mc_client *cl;
	char err[512];
	json_t *ls = NULL, *st = NULL, *g;
	size_t i;
	int r;

	r = mc_cli_parse_simple(argc, argv, &o, mc_ls_usage);
	if (r)
		return r > 0 ? 0 : 2;
	cl = mc_client_connect(&o.c, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "microcosm ls: %s\n", err);
		return 1;
	}
	if (mc_client_call(cl, json_pack("{s:s}", "op", "status"), 10000, &st) < 0 ||
	    mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 30000, &ls) < 0) {
		fprintf(stderr, "microcosm ls: controller (pid %d) did not answer\n",
		        mc_client_pid(cl));
		mc_client_destroy(&cl);
		return 1;
	}
	if (o.json) {
		json_object_set(st, "guests", json_object_get(ls, "guests"));
		json_dumpf(st, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("# cluster %s: accel %s, kernel %s, controller pid %lld\n",
		       json_string_value(json_object_get(st, "cluster")),
		       json_string_value(json_object_get(st, "accel")),
		       json_string_value(json_object_get(st, "kernel_kind")),
		       (long long)json_integer_value(json_object_get(st, "pid")));
		json_t *hosts = json_object_get(st, "hosts"), *h;
		int many = json_array_size(hosts) > 0;

		/* Across hosts: a line per host, and each guest's host. */
		json_array_foreach(hosts, i, h)
		{
			const char *why = json_string_value(json_object_get(h, "why"));

			printf("# host %s (%s): %s, %lld guests from g%04lld, daemon pid "
			       "%lld%s%s\n",
			       json_string_value(json_object_get(h, "name")),
			       json_string_value(json_object_get(h, "underlay")),
			       json_string_value(json_object_get(h, "state")),
			       (long long)json_integer_value(json_object_get(h, "guests")),
			       (long long)json_integer_value(json_object_get(h, "first")),
			       (long long)json_integer_value(json_object_get(h, "daemon_pid")),
			       why && *why ? ": " : "", why && *why ? why : "");
		}
		if (many)
			printf("%-8s %-9s %-12s %-12s %-8s %8s %8s %-16s %s\n", "GUEST", "STATE",
			       "IP", "HOST", "PID", "BOOT_MS", "HB_AGE", "KERNEL", "REASON");
		else
			printf("%-8s %-9s %-12s %-8s %8s %8s %-16s %s\n", "GUEST", "STATE", "IP",
			       "PID", "BOOT_MS", "HB_AGE", "KERNEL", "REASON");
		json_array_foreach(json_object_get(ls, "guests"), i, g)
		{
			long long boot = json_integer_value(json_object_get(g, "boot_ms"));
			long long hb = json_integer_value(json_object_get(g, "hb_age_ms"));
			char bs[24] = "-", hs[24] = "-";

			if (boot >= 0)
				snprintf(bs, sizeof(bs), "%lld", boot);
			if (hb >= 0)
				snprintf(hs, sizeof(hs), "%lld", hb);
			printf("%-8s %-9s %-12s ", json_string_value(json_object_get(g, "name")),
			       json_string_value(json_object_get(g, "state")),
			       json_string_value(json_object_get(g, "ip")));
			if (many)
				printf("%-12s ",
				       json_string_value(json_object_get(g, "host")) ?: "-");
			printf("%-8lld %8s %8s %-16s %s\n",
			       (long long)json_integer_value(json_object_get(g, "pid")), bs, hs,
			       json_string_value(json_object_get(g, "kernel")),
			       json_string_value(json_object_get(g, "reason")));
		}
	}
	json_decref(st);
	json_decref(ls);
	mc_client_destroy(&cl);
	return 0;
}
