/* cmd_fault.c — `microcosm fault TARGET KIND [KEY=VALUE...]`: one fault now, on the record. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "fault.h"
#include "inject.h"
#include "util.h"

const char mc_fault_usage[] =
        "usage: microcosm fault [options] TARGET KIND [KEY=VALUE...]\n"
        "       microcosm fault --list\n"
        "Injects one fault now into the guests of TARGET (all, g0003, g0001-g0004, 0-7, "
        "lists)\n"
        "and prints what happened to each. Every record is appended to the cluster's\n"
        "faults.jsonl (<state>/<cluster>/faults.jsonl).\n"
        "  -d, --duration D   revert after D (e.g. 10s) for kinds that can be reverted\n"
        "      --seed S       seed for kinds that draw (bitflip)\n"
        "      --json         one JSON record per guest instead of the table\n"
        "      --list         the fault kinds and their parameters\n"
        "  -c, --cluster NAME cluster name (default $MC_CLUSTER or 'default')\n"
        "      --state-dir DIR state root (default $MC_STATE_DIR or /run/microcosm)\n"
        "  -h, --help         this text\n"
        "Examples: microcosm fault g0003 crash\n"
        "          microcosm fault -d 5s g0001-g0004 netem delay=50ms loss=10%%\n"
        "          microcosm fault g0002 kill process=mc-ring signal=KILL\n";

static void list_kinds(void)
{
	for (const struct mc_fault_kind *k = mc_fault_kinds; k->name; k++) {
		printf("%-12s %-5s %s%s\n", k->name, k->where == MC_FAULT_HOST ? "host" : "guest",
		       k->help, k->duration ? " [--duration]" : "");
		for (int i = 0; i < MC_FAULT_MAX_PARAMS && k->params[i].key; i++)
			printf("%-18s %s=%s%s\n", "", k->params[i].key, k->params[i].help,
			       k->params[i].required ? " (required)" : "");
	}
}

/* Appends records to <cluster dir>/faults.jsonl (one line each, O_APPEND). */
static void append_records(const struct mc_common_opts *c, json_t *records)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	json_t *r;
	size_t i;
	int fd;

	mc_cluster_dir(c, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/faults.jsonl", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	json_array_foreach(records, i, r)
	{
		char *line = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);

		if (line) {
			int bad = write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0;

			free(line);
			if (bad)
				break;
		}
	}
	close(fd);
}

int cmd_fault(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"duration", required_argument, NULL, 'd'},
	        {"seed", required_argument, NULL, 'S'},
	        {"json", no_argument, NULL, 'j'},
	        {"list", no_argument, NULL, 'l'},
	        {"cluster", required_argument, NULL, 'c'},
	        {"state-dir", required_argument, NULL, 'D'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct mc_common_opts c;
	struct mc_inject_req req = {0};
	struct mc_target t;
	char err[512], *kv[MC_FAULT_MAX_PARAMS] = {0};
	json_t *records = NULL, *r;
	int opt, json = 0, failed = 0, rc;
	uint64_t v;
	size_t i;

	mc_cli_common_defaults(&c);
	optind = 0;
	opterr = 0;
	/* Options may follow TARGET KIND; KEY=VALUE words never start with '-'. */
	while ((opt = getopt_long(argc, argv, ":d:c:jh", lo, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (mc_parse_duration_ms(optarg, &v) || v == 0) {
				fprintf(stderr,
				        "microcosm fault: --duration '%s': want a duration > 0\n",
				        optarg);
				return 2;
			}
			req.duration_ms = v;
			break;
		case 'S':
			if (mc_parse_u64(optarg, 1, UINT64_MAX, &v)) {
				fprintf(stderr,
				        "microcosm fault: --seed '%s': want a positive integer\n",
				        optarg);
				return 2;
			}
			req.seed = v;
			break;
		case 'j':
			json = 1;
			break;
		case 'l':
			list_kinds();
			return 0;
		case 'c':
			if (mc_cli_set_cluster(&c, optarg, "fault") < 0)
				return 2;
			break;
		case 'D':
			if (mc_cli_set_state_dir(&c, optarg, "fault") < 0)
				return 2;
			break;
		case 'h':
			fputs(mc_fault_usage, stdout);
			return 0;
		case ':':
			fprintf(stderr, "microcosm fault: %s needs a value\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "microcosm fault: unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr,
		        "microcosm fault: want TARGET KIND (see --help; --list for kinds)\n");
		return 2;
	}
	req.target = argv[optind];
	if (mc_target_parse(req.target, &t)) {
		fprintf(stderr, "microcosm fault: bad target '%s'\n", req.target);
		return 2;
	}
	if (!(req.kind = mc_fault_kind_find(argv[optind + 1]))) {
		fprintf(stderr, "microcosm fault: unknown kind '%s' (expected %s)\n",
		        argv[optind + 1], mc_fault_kind_names());
		return 2;
	}
	for (int a = optind + 2; a < argc; a++) {
		char *eq = strchr(argv[a], '=');

		if (!eq || eq == argv[a] || req.nparams >= MC_FAULT_MAX_PARAMS) {
			fprintf(stderr, "microcosm fault: '%s': want KEY=VALUE (at most %d)\n",
			        argv[a], MC_FAULT_MAX_PARAMS);
			goto bad;
		}
		kv[req.nparams] = strndup(argv[a], (size_t)(eq - argv[a]));
		req.keys[req.nparams] = kv[req.nparams];
		req.vals[req.nparams++] = eq + 1;
	}
	if (mc_inject_check(&req, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm fault: %s\n", err);
		goto bad;
	}
	if ((rc = mc_inject(&c, &req, &records, err, sizeof(err))) < 0) {
		fprintf(stderr, "microcosm fault: %s\n", err);
		for (int k = 0; k < req.nparams; k++)
			free(kv[k]);
		return rc == -EINVAL ? 2 : 1;
	}
	append_records(&c, records);
	if (!json)
		printf("%-8s %-12s %-9s %s\n", "GUEST", "KIND", "OUTCOME", "DETAIL");
	json_array_foreach(records, i, r)
	{
		const char *outcome = json_string_value(json_object_get(r, "outcome"));
		const char *e = json_string_value(json_object_get(r, "error"));
		json_t *d = json_object_get(r, "detail");
		char *ds = d ? (json_is_string(d) ? strdup(json_string_value(d))
		                                  : json_dumps(d, JSON_COMPACT))
		             : NULL;

		failed += !outcome || strcmp(outcome, "injected") != 0;
		if (json) {
			json_dumpf(r, stdout, JSON_COMPACT | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			printf("%-8s %-12s %-9s %s\n",
			       json_string_value(json_object_get(r, "guest")), req.kind->name,
			       outcome ? outcome : "?",
			       e    ? e
			       : ds ? ds
			            : "");
		}
		free(ds);
	}
	json_decref(records);
	for (int k = 0; k < req.nparams; k++)
		free(kv[k]);
	return failed ? 1 : 0;
bad:
	for (int k = 0; k < req.nparams; k++)
		free(kv[k]);
	return 2;
}
