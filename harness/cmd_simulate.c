/* cmd_simulate.c — `microcosm simulate FILE.yaml`: policies' outcomes at any size (discrete-event).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "experiment.h"
#include "faultplan.h"
#include "policies/policy.h"
#include "predict.h"
#include "simulate.h"
#include "util.h"

const char mc_simulate_usage[] =
        "usage: microcosm simulate [options] FILE.yaml\n"
        "Simulates the job of the file's simulate section (work, checkpoint, restart and\n"
        "migration costs) under its fault plan's failures (crash and reboot entries, the same\n"
        "seeded draws as a real run) and its prediction section, once per policy and seed,\n"
        "and prints time to solution, work lost, restarts, checkpoints, migrations, false-\n"
        "alarm migrations and failures avoided; with several seeds also their medians.\n"
        "Starts no guests. docs/policies.md describes the model.\n"
        "  --nodes N       simulate N nodes (default simulate.nodes, else cluster.guests)\n"
        "  --policy P      a policy to simulate (repeatable): none, checkpoint-restart,\n"
        "                  proactive-migrate or a PATH.so, with params as\n"
        "                  NAME:KEY=VALUE,KEY=VALUE (checkpoint-restart:interval=10m). Given\n"
        "                  without params, the file's policy keeps the file's params.\n"
        "                  Default: none, checkpoint-restart and the file's policy.\n"
        "  --seeds K       simulate K seeds: S, S+1, ..., S+K-1 (1)\n"
        "  --seed S        the first seed (default: faults.seed, else seed, else 1)\n"
        "  --results DIR   results root whose catalog.sqlite gives `measured` costs\n"
        "                  (default: the file's results.dir)\n"
        "  --log FILE      write every policy decision to FILE, one JSON object a line\n"
        "  --json          print a JSON object instead of the table\n"
        "  -h, --help      this text\n"
        "Exit status: 0 done, 1 a simulation failed (a policy that cannot load), 2 bad input.\n";

#define MAX_POLICIES 16

/* One policy to simulate, as the command line or the file names it. */
struct sim_policy {
	char name[4096];                                     /* built-in or path */
	char spec[4096];                                     /* the text it came from */
	unsigned n;                                          /* entries in params */
	char keys[MC_POLICY_MAX_PARAMS][32];                 /* param keys */
	char values[MC_POLICY_MAX_PARAMS][64];               /* param values */
	struct mc_policy_param params[MC_POLICY_MAX_PARAMS]; /* point into keys/values */
};

/* What the command line asks for; filled by parse(), which does nothing else. */
struct simulate_opts {
	const char *file;              /* borrowed from argv */
	unsigned nodes;                /* 0 = the file's */
	unsigned seeds;                /* >= 1 */
	uint64_t seed;                 /* when seed_set */
	int seed_set;                  /* --seed given */
	const char *results;           /* --results or NULL; borrowed */
	const char *log;               /* --log or NULL; borrowed */
	int json;                      /* --json */
	int help;                      /* -h */
	unsigned npol;                 /* entries in pol */
	const char *pol[MAX_POLICIES]; /* --policy values, borrowed */
};

static int bad(const char *fmt, const char *v)
{
	fprintf(stderr, "microcosm simulate: ");
	fprintf(stderr, fmt, v ? v : "");
	fprintf(stderr, "\n");
	return 2;
}

static int parse(int argc, char **argv, struct simulate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seeds = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		uint64_t u;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = 1;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			/* main() set the log level */
		} else if (!strcmp(a, "--json")) {
			o->json = 1;
		} else if (mc_opt_value(argc, argv, &i, "--nodes", &v)) {
			if (!v || mc_parse_u64(v, 1, 10000000, &u))
				return bad("--nodes '%s': expected an integer 1..10000000", v);
			o->nodes = (unsigned)u;
		} else if (mc_opt_value(argc, argv, &i, "--seeds", &v)) {
			if (!v || mc_parse_u64(v, 1, 1000000, &u))
				return bad("--seeds '%s': expected an integer 1..1000000", v);
			o->seeds = (unsigned)u;
		} else if (mc_opt_value(argc, argv, &i, "--seed", &v)) {
			if (!v || mc_parse_u64(v, 0, INT64_MAX, &o->seed))
				return bad("--seed '%s': expected an integer 0..2^63-1", v);
			o->seed_set = 1;
		} else if (mc_opt_value(argc, argv, &i, "--policy", &v)) {
			if (!v || !*v)
				return bad("--policy needs a NAME or PATH.so%s", "");
			if (o->npol >= MAX_POLICIES)
				return bad("--policy: at most 16 policies%s", "");
			o->pol[o->npol++] = v;
		} else if (mc_opt_value(argc, argv, &i, "--results", &v)) {
			if (!v || !*v)
				return bad("--results needs a DIR%s", "");
			o->results = v;
		} else if (mc_opt_value(argc, argv, &i, "--log", &v)) {
			if (!v || !*v)
				return bad("--log needs a FILE%s", "");
			o->log = v;
		} else if (a[0] == '-' && a[1]) {
			return bad("unknown option '%s' (see --help)", a);
		} else if (!o->file) {
			o->file = a;
		} else {
			return bad("one FILE.yaml only ('%s' is extra)", a);
		}
	}
	if (!o->help && !o->file)
		return bad("no experiment file given (see --help)%s", "");
	return 0;
}

static void pol_link(struct sim_policy *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		p->params[i].key = p->keys[i];
		p->params[i].value = p->values[i];
	}
}

static void pol_from_file(struct sim_policy *p, const struct mc_experiment *e)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", e->policy.name);
	snprintf(p->spec, sizeof(p->spec), "%s", e->policy.name);
	p->n = e->policy.n_params;
	for (unsigned i = 0; i < p->n; i++) {
		snprintf(p->keys[i], sizeof(p->keys[i]), "%s", e->policy.params[i].key);
		snprintf(p->values[i], sizeof(p->values[i]), "%s", e->policy.params[i].value);
	}
	pol_link(p);
}

/* "NAME[:K=V,K=V]"; a path may itself contain ':' only when params follow the last one. */
static int pol_parse(struct sim_policy *p, const char *s, const struct mc_experiment *e)
{
	const char *colon = strrchr(s, ':');
	size_t nl = colon && strchr(colon, '=') ? (size_t)(colon - s) : strlen(s);

	memset(p, 0, sizeof(*p));
	snprintf(p->spec, sizeof(p->spec), "%s", s);
	if (nl == 0 || nl >= sizeof(p->name))
		return bad("--policy '%s': expected NAME or PATH.so[:KEY=VALUE,...]", s);
	memcpy(p->name, s, nl);
	p->name[nl] = '\0';
	if (!mc_policy_is_path(p->name) && !mc_policy_builtin(p->name)) {
		fprintf(stderr,
		        "microcosm simulate: --policy '%s': unknown policy (expected %s, or a "
		        "PATH.so)\n",
		        p->name, mc_policy_builtin_names());
		return 2;
	}
	if (nl == strlen(s)) {
		if (e->policy.set && strcmp(e->policy.name, p->name) == 0)
			pol_from_file(p, e);
		return 0;
	}
	for (const char *q = s + nl + 1; *q;) {
		const char *comma = strchr(q, ',');
		size_t len = comma ? (size_t)(comma - q) : strlen(q);
		const char *eq = memchr(q, '=', len);

		if (p->n >= MC_POLICY_MAX_PARAMS || !eq || eq == q ||
		    (size_t)(eq - q) >= sizeof(p->keys[0]) ||
		    len - (size_t)(eq - q) - 1 >= sizeof(p->values[0]))
			return bad("--policy '%s': expected params as KEY=VALUE,KEY=VALUE (at most "
			           "16; keys up to 31 bytes, values up to 63)",
			           s);
		memcpy(p->keys[p->n], q, (size_t)(eq - q));
		memcpy(p->values[p->n], eq + 1, len - (size_t)(eq - q) - 1);
		p->n++;
		q = comma ? comma + 1 : q + len;
	}
	pol_link(p);
	return 0;
}

/* The policies of the run: the command line's, else none, checkpoint-restart, the file's. */
static int pick_policies(const struct simulate_opts *o, const struct mc_experiment *e,
                         struct sim_policy *v, unsigned *n)
{
	int r;

	*n = 0;
	for (unsigned i = 0; i < o->npol; i++)
		if ((r = pol_parse(&v[(*n)++], o->pol[i], e)))
			return r;
	if (o->npol)
		return 0;
	pol_parse(&v[(*n)++], "none", e);
	pol_parse(&v[(*n)++], "checkpoint-restart", e);
	if (e->policy.set && strcmp(e->policy.name, "none") &&
	    strcmp(e->policy.name, "checkpoint-restart"))
		pol_from_file(&v[(*n)++], e);
	return 0;
}

/* Duration for people: "45.2s", "12m34s", "3h04m", "2d03h". */
static const char *fmt_dur(char *buf, size_t cap, double s)
{
	if (!isfinite(s))
		snprintf(buf, cap, "-");
	else if (s < 60)
		snprintf(buf, cap, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
	else if (s < 86400)
		snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	else
		snprintf(buf, cap, "%dd%02dh", (int)(s / 86400), (int)fmod(s / 3600, 24));
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The medians over the runs of one policy, as a result (seed = 0, finished = how many). */
static void medians(const struct mc_sim_result *r, unsigned n, struct mc_sim_result *m, double *tmp)
{
	memset(m, 0, sizeof(*m));
#define MED(field)                                                                                 \
	do {                                                                                       \
		for (unsigned i = 0; i < n; i++)                                                   \
			tmp[i] = (double)r[i].field;                                               \
		m->field = median(tmp, n);                                                         \
	} while (0)
	MED(time_s);
	MED(work_lost_s);
	MED(failures);
	MED(checkpoints);
	MED(migrations);
	MED(false_migrations);
	MED(avoided);
	MED(warnings);
	MED(false_alarms);
	MED(refused);
	MED(events);
#undef MED
	for (unsigned i = 0; i < n; i++)
		m->finished += r[i].finished;
}

static void print_row(int pw, const char *policy, const char *seed, const struct mc_sim_result *r,
                      double work, const char *done)
{
	char t[32], l[32], ov[32];

	snprintf(ov, sizeof(ov), "%+.1f%%", (r->time_s / work - 1) * 100);
	printf("%-*s %-7s %9s %9s %9s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
	       "  %s\n",
	       pw, policy, seed, fmt_dur(t, sizeof(t), r->time_s), ov,
	       fmt_dur(l, sizeof(l), r->work_lost_s), r->failures, r->checkpoints, r->migrations,
	       r->false_migrations, r->avoided, done);
}

struct log_ctx {
	FILE *fp;
	uint64_t seed;
	const char *spec;
};

static void log_record(void *ctx, const struct mc_policy_record *r)
{
	struct log_ctx *lc = ctx;
	json_t *o = mc_sim_record_to_json(r);
	char *s;

	if (!o)
		return;
	json_object_set_new(o, "seed", json_integer((json_int_t)lc->seed));
	json_object_set_new(o, "policy_spec", json_string(lc->spec));
	if ((s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
		fprintf(lc->fp, "%s\n", s);
		free(s);
	}
	json_decref(o);
}

static json_t *params_json(const struct sim_policy *p)
{
	json_t *o = json_object();

	for (unsigned i = 0; o && i < p->n; i++)
		json_object_set_new(o, p->keys[i], json_string(p->values[i]));
	return o;
}

int cmd_simulate(int argc, char **argv)
{
	struct simulate_opts o;
	struct mc_experiment *e = NULL;
	struct sim_policy *pols = NULL;
	struct mc_sim_result *res = NULL, med;
	struct mc_sim_config cfg;
	struct log_ctx lc = {0};
	json_t *out = NULL, *jp = NULL;
	double *tmp = NULL, rate = 0;
	char err[8192], a[32], b[32], c[32], d[32];
	unsigned npol = 0;
	uint64_t base;
	int rc = 2, pw = 18;

	if ((rc = parse(argc, argv, &o)) != 0)
		return rc;
	if (o.help) {
		fputs(mc_simulate_usage, stdout);
		return 0;
	}
	rc = 2;
	if (!(e = mc_experiment_load(o.file, err, sizeof(err)))) {
		fprintf(stderr, "microcosm simulate: %s\n", err);
		return 2;
	}
	base = o.seed_set ? o.seed : e->fault_seed_set || e->seed_set ? mc_fault_seed(e) : 1;
	if (mc_sim_config_resolve(e, o.nodes, o.results, base, &cfg, err, sizeof(err)) ||
	    mc_predict_node_rate(e, cfg.nodes, base, &rate, err, sizeof(err))) {
		fprintf(stderr, "microcosm simulate: %s\n", err);
		goto out;
	}
	if (!(pols = calloc(MAX_POLICIES, sizeof(*pols))) ||
	    !(res = calloc(o.seeds, sizeof(*res))) || !(tmp = calloc(o.seeds, sizeof(*tmp)))) {
		fprintf(stderr, "microcosm simulate: out of memory\n");
		goto out;
	}
	if (pick_policies(&o, e, pols, &npol))
		goto out;
	/* Every policy loads and takes its params before anything runs. */
	for (unsigned p = 0; p < npol; p++) {
		if (mc_sim_check_policy(e, &cfg, pols[p].name, pols[p].params, pols[p].n, err,
		                        sizeof(err))) {
			fprintf(stderr, "microcosm simulate: %s\n", err);
			goto out;
		}
		if ((int)strlen(pols[p].spec) > pw)
			pw = (int)strlen(pols[p].spec);
	}
	if (o.log && !(lc.fp = fopen(o.log, "w"))) {
		fprintf(stderr, "microcosm simulate: --log %s: %s\n", o.log, strerror(errno));
		goto out;
	}
	if (o.json) {
		out = json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}",
		                "experiment", e->name, "nodes", (json_int_t)cfg.nodes, "work_s",
		                cfg.work_s, "checkpoint_s", cfg.checkpoint_s, "restart_s",
		                cfg.restart_s, "migrate_s", cfg.migrate_s, "launch_s", cfg.launch_s,
		                "node_mtbf_s", rate > 0 ? 1 / rate : 0.0, "limit_s", cfg.limit_s,
		                "first_seed", (json_int_t)base, "seeds", (json_int_t)o.seeds);
		jp = json_array();
		json_object_set_new(out, "policies", jp);
	} else {
		printf("simulate %s: %u nodes, work %s, checkpoint %s, restart %s, migrate %s\n",
		       e->name, cfg.nodes, fmt_dur(a, sizeof(a), cfg.work_s),
		       fmt_dur(b, sizeof(b), cfg.checkpoint_s),
		       fmt_dur(c, sizeof(c), cfg.restart_s), fmt_dur(d, sizeof(d), cfg.migrate_s));
		if (cfg.launch_s > 0)
			printf("launch %s (before the work begins and after every restart)\n",
			       fmt_dur(a, sizeof(a), cfg.launch_s));
		printf("failures: node MTBF %s, system MTBF %s (%s); ",
		       rate > 0 ? fmt_dur(a, sizeof(a), 1 / rate) : "-",
		       rate > 0 ? fmt_dur(b, sizeof(b), 1 / rate / cfg.nodes) : "-",
		       cfg.plan_failures ? "the plan's failures only" : "renewal");
		if (e->prediction.set)
			printf("prediction: lead %s, recall %.2f, precision %.2f\n",
			       fmt_dur(c, sizeof(c), (double)e->prediction.lead_ms / 1000),
			       e->prediction.recall, e->prediction.precision);
		else
			printf("no prediction\n");
		printf("seeds %" PRIu64 "..%" PRIu64 "; gives up at %s or %" PRIu64 " failures\n\n",
		       base, base + o.seeds - 1, fmt_dur(a, sizeof(a), cfg.limit_s),
		       cfg.max_failures);
		printf("%-*s %-7s %9s %9s %9s %8s %8s %8s %8s %8s  %s\n", pw, "POLICY", "SEED",
		       "TIME", "VS-WORK", "LOST", "RESTARTS", "CKPTS", "MIGR", "FALSE-MG",
		       "AVOIDED", "FINISHED");
	}
	rc = 0;
	for (unsigned p = 0; p < npol; p++) {
		int64_t t0 = mc_now_ms();
		json_t *runs = NULL;

		for (unsigned k = 0; k < o.seeds; k++) {
			cfg.seed = base + k;
			lc.seed = cfg.seed;
			lc.spec = pols[p].spec;
			if (mc_sim_run(e, &cfg, pols[p].name, pols[p].params, pols[p].n,
			               lc.fp ? log_record : NULL, &lc, &res[k], err, sizeof(err))) {
				fprintf(stderr, "microcosm simulate: %s\n", err);
				rc = 1;
				break;
			}
		}
		if (rc)
			break;
		medians(res, o.seeds, &med, tmp);
		if (o.json) {
			json_t *m = mc_sim_result_to_json(&med);

			runs = json_array();
			for (unsigned k = 0; k < o.seeds; k++)
				json_array_append_new(runs, mc_sim_result_to_json(&res[k]));
			json_object_del(m, "seed");
			json_object_set_new(m, "finished", json_integer((json_int_t)med.finished));
			json_array_append_new(jp, json_pack("{s:s, s:o, s:o, s:o, s:I}", "policy",
			                                    pols[p].spec, "params",
			                                    params_json(&pols[p]), "runs", runs,
			                                    "median", m, "wall_ms",
			                                    (json_int_t)(mc_now_ms() - t0)));
			continue;
		}
		for (unsigned k = 0; o.seeds <= 20 && k < o.seeds; k++) {
			snprintf(a, sizeof(a), "%" PRIu64, res[k].seed);
			print_row(pw, pols[p].spec, a, &res[k], cfg.work_s,
			          res[k].finished ? "yes" : "NO (gave up)");
		}
		if (o.seeds > 1) {
			snprintf(b, sizeof(b), "%u/%u", med.finished, o.seeds);
			print_row(pw, pols[p].spec, "median", &med, cfg.work_s, b);
		}
		fprintf(stderr, "simulate: %s: %u seed%s in %.2f s\n", pols[p].spec, o.seeds,
		        o.seeds == 1 ? "" : "s", (double)(mc_now_ms() - t0) / 1000.0);
	}
	if (o.json && rc == 0) {
		char *s = json_dumps(out, JSON_INDENT(2));

		printf("%s\n", s ? s : "{}");
		free(s);
	}
out:
	if (lc.fp)
		fclose(lc.fp);
	json_decref(out);
	free(tmp);
	free(res);
	free(pols);
	mc_experiment_destroy(&e);
	return rc;
}
