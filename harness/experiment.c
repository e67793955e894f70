/* experiment.c — experiment files: YAML (libyaml events) to struct mc_experiment, and to JSON. */
#include "experiment.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cli.h"
#include "fault.h"
#include "faultplan.h"
#include "policies/policy.h"
#include "util.h"

/* A YAML node with the line it starts on: the tree the parser's events build. */
enum node_type { NODE_SCALAR, NODE_SEQ, NODE_MAP };

struct node {
	enum node_type type;
	int line;           /* 1-based */
	int plain;          /* scalar written without quotes or block style */
	char *str;          /* scalar bytes, NUL-terminated; NULL for collections */
	size_t len;         /* bytes in str (a quoted scalar may hold "\0") */
	struct node **kids; /* sequence: items; mapping: key, value, key, value, ... */
	size_t n, cap;      /* entries in kids, and room */
};

/* One parse: where messages go and what is being filled. */
struct pctx {
	const char *src; /* file name for messages */
	char *err;
	size_t errlen;
	size_t nodes; /* nodes built so far */
	struct mc_experiment *e;
};

#define PATH_CAP 160 /* field paths: "workloads[63].args[255]", "network.topology.intra.loss" */

/* A quoted, escaped and shortened copy of a value, for messages. */
struct qbuf {
	char s[200];
};

static const char *const top_keys[] = {"name",       "seed",     "cluster", "network", "workloads",
                                       "results",    "faults",   "tracing", "repeat",  "policy",
                                       "prediction", "simulate", NULL};
static const char *const tracing_keys[] = {"enabled", "events", "flush", NULL};
static const char *const cluster_keys[] = {"guests",  "spawn",   "memory",    "vcpus",
                                           "kernel",  "density", "heartbeat", "heartbeat_timeout",
                                           "tb_size", "image",   "share",     NULL};
static const char *const results_keys[] = {"dir", "collect", NULL};
static const char *const spawn_names[] = {"clone", "boot", NULL};
static const char *const kind_names[] = {"mpi", "taskfarm", "exec", NULL};
static const char *const mpi_keys[] = {"name", "kind",   "program", "args", "ranks",
                                       "ppn",  "repeat", "timeout", "env",  NULL};
static const char *const taskfarm_keys[] = {"name",    "kind",         "tasks",      "task_ms",
                                            "workers", "kill_workers", "kill_after", "repeat",
                                            "timeout", "env",          NULL};
static const char *const exec_keys[] = {"name",   "kind",    "target", "program", "args",
                                        "repeat", "timeout", "env",    NULL};
/* Fields of each kind, indexed by enum mc_exp_kind. */
static const char *const *const kind_keys[] = {mpi_keys, taskfarm_keys, exec_keys};

/* Network settings: the value syntax of each key. */
enum vtype { V_DELAY, V_RATE, V_PERCENT, V_RACK, V_OVERSUB, V_TOPO_KIND };

struct vkey {
	const char *key;
	enum vtype type;
};

static const struct vkey link_vkeys[] = {
        {"latency", V_DELAY}, {"jitter", V_DELAY},      {"bandwidth", V_RATE},
        {"loss", V_PERCENT},  {"duplicate", V_PERCENT}, {"corrupt", V_PERCENT},
        {NULL, V_DELAY},
};
static const struct vkey topo_vkeys[] = {
        {"kind", V_TOPO_KIND},
        {"rack_size", V_RACK},
        {"oversubscription", V_OVERSUB},
        {NULL, V_DELAY},
};
static const char *const network_keys[] = {"latency",   "jitter",  "bandwidth", "loss",
                                           "duplicate", "corrupt", "topology",  NULL};
static const char *const topology_keys[] = {"kind",  "rack_size", "oversubscription",
                                            "intra", "inter",     NULL};
static const char *const link_keys[] = {"latency",   "jitter",  "bandwidth", "loss",
                                        "duplicate", "corrupt", NULL};
static const char *const topo_kind_names[] = {"flat", "fat-tree", NULL};

/* The faults section. */
static const char *const faults_keys[] = {"seed", "plan", NULL};
static const char *const fault_keys[] = {"name",    "kind",     "target", "workload",
                                         "at",      "after",    "delay",  "distribution",
                                         "horizon", "duration", "params", NULL};
static const char *const when_keys[] = {"at", "after", "distribution", NULL};
static const char *const event_names[] = {"output", "heartbeat", NULL};
static const char *const output_keys[] = {"event", "match", NULL};
static const char *const heartbeat_keys[] = {"event", "guest", "count", NULL};
static const char *const dist_names[] = {"exponential", "weibull", NULL};
static const char *const exponential_keys[] = {"kind", "mtbf", NULL};
static const char *const weibull_keys[] = {"kind", "shape", "scale", NULL};
static const char *const prediction_keys[] = {"lead", "recall", "precision", NULL};
static const char *const policy_keys[] = {"name", "params", NULL};
static const char *const simulate_keys[] = {
        "work",  "checkpoint_cost", "restart_cost", "migrate_cost", "launch_cost",
        "nodes", "spares",          "failures",     "limit",        NULL};
static const char *const failure_models[] = {"renewal", "plan", NULL};

#define DAY_MS  86400000ull            /* 24h */
#define YEAR_MS (8760ull * 3600000ull) /* 8760h */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int fail(struct pctx *c, int line, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Writes "FILE:LINE: PATH: message" (or "FILE:LINE: message" without a path). */
static int fail(struct pctx *c, int line, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path && *path)
		set_err(c->err, c->errlen, "%s:%d: %s: %s", c->src, line, path, msg);
	else
		set_err(c->err, c->errlen, "%s:%d: %s", c->src, line, msg);
	return -EINVAL;
}

static const char *quote(const char *s, size_t len, struct qbuf *q)
{
	size_t o = 0, max = 40;
	int cut = len > max;

	if (cut) {
		/* Cut before a character, not inside its UTF-8 sequence. */
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
	}
	q->s[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			q->s[o++] = '\\';
			q->s[o++] = (char)ch;
		} else if (ch == '\n') {
			q->s[o++] = '\\';
			q->s[o++] = 'n';
		} else if (ch == '\t') {
			q->s[o++] = '\\';
			q->s[o++] = 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(q->s + o, sizeof(q->s) - o, "\\x%02x", ch);
		} else {
			q->s[o++] = (char)ch;
		}
	}
	if (cut) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	q->s[o++] = '"';
	q->s[o] = '\0';
	return q->s;
}

static int is_null(const struct node *n)
{
	if (n->type != NODE_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

/* What a node is, for "got ..." in messages. */
static const char *desc(const struct node *n, struct qbuf *q)
{
	if (n->type == NODE_MAP)
		return "a mapping";
	if (n->type == NODE_SEQ)
		return "a sequence";
	if (is_null(n))
		return "null";
	return quote(n->str, n->len, q);
}

/* The text of a non-null scalar without NUL bytes, else NULL. */
static const char *scalar(const struct node *n)
{
	if (n->type != NODE_SCALAR || is_null(n) || memchr(n->str, '\0', n->len))
		return NULL;
	return n->str;
}

static int expected(struct pctx *c, const struct node *v, const char *path, const char *what)
{
	struct qbuf q;

	return fail(c, v->line, path, "expected %s, got %s", what, desc(v, &q));
}

static const char *join(char *buf, const char *parent, const char *key)
{
	if (parent && *parent)
		snprintf(buf, PATH_CAP, "%s.%s", parent, key);
	else
		snprintf(buf, PATH_CAP, "%s", key);
	return buf;
}

/* A key as it appears in a path: as written when short and printable, else quoted. */
static const char *key_text(const struct node *k, struct qbuf *q)
{
	if (k->len == 0 || k->len > 40)
		return quote(k->str, k->len, q);
	for (size_t i = 0; i < k->len; i++)
		if (!isgraph((unsigned char)k->str[i]))
			return quote(k->str, k->len, q);
	return k->str;
}

static void list_names(char *buf, size_t cap, const char *const *names)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; names[i] && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", names[i]);
}

static int in_list(const char *s, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* ---- building the tree from libyaml's events ---- */

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

static int node_add(struct node *parent, struct node *kid)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct node **k = realloc(parent->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->n++] = kid;
	return 0;
}

static int oom(struct pctx *c)
{
	set_err(c->err, c->errlen, "%s: out of memory", c->src);
	return -ENOMEM;
}

static int syntax_error(struct pctx *c, const yaml_parser_t *p, const char *text, size_t len)
{
	const char *problem = p->problem ? p->problem : "invalid YAML";
	int line = 1;

	if (p->error == YAML_MEMORY_ERROR)
		return oom(c);
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		size_t end = p->problem_offset < len ? p->problem_offset : len;

		for (size_t i = 0; i < end; i++)
			line += text[i] == '\n';
		return fail(c, line, "", "syntax error: %s", problem);
	}
	line = (int)p->problem_mark.line + 1;
	if (p->context)
		return fail(c, line, "", "syntax error: %s (%s at line %d)", problem, p->context,
		            (int)p->context_mark.line + 1);
	return fail(c, line, "", "syntax error: %s", problem);
}

static struct node *node_new(enum node_type type, int line)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n) {
		n->type = type;
		n->line = line;
	}
	return n;
}

/* Builds the tree of the one document in text. *root is NULL for an empty stream; the
 * caller frees *root, also after an error. */
static int load_tree(struct pctx *c, const char *text, size_t len, struct node **root)
{
	struct node *stack[MC_EXP_MAX_DEPTH];
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, docs = 0, done = 0, r = 0;

	*root = NULL;
	if (!yaml_parser_initialize(&p))
		return oom(c);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && r == 0) {
		struct node *n = NULL;
		int line, open = 0;

		if (!yaml_parser_parse(&p, &ev)) {
			r = syntax_error(c, &p, text, len);
			break;
		}
		line = (int)ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				r = fail(c, line, "",
				         "a second YAML document (a file holds one experiment)");
			break;
		case YAML_ALIAS_EVENT:
			r = fail(c, line, "", "aliases (*name) are not supported");
			break;
		case YAML_SCALAR_EVENT:
			if (c->nodes >= MC_EXP_MAX_NODES) {
				r = fail(c, line, "", "more than %d YAML nodes", MC_EXP_MAX_NODES);
				break;
			}
			n = node_new(NODE_SCALAR, line);
			if (n) {
				n->len = ev.data.scalar.length;
				n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
				n->str = malloc(n->len + 1);
				if (n->str) {
					memcpy(n->str, ev.data.scalar.value, n->len);
					n->str[n->len] = '\0';
				}
			}
			if (!n || !n->str) {
				node_free(n);
				n = NULL;
				r = oom(c);
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == MC_EXP_MAX_DEPTH) {
				r = fail(c, line, "", "nested deeper than %d levels",
				         MC_EXP_MAX_DEPTH);
				break;
			}
			if (c->nodes >= MC_EXP_MAX_NODES) {
				r = fail(c, line, "", "more than %d YAML nodes", MC_EXP_MAX_NODES);
				break;
			}
			n = node_new(ev.type == YAML_MAPPING_START_EVENT ? NODE_MAP : NODE_SEQ,
			             line);
			if (!n)
				r = oom(c);
			open = 1;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		if (n) {
			c->nodes++;
			if (depth > 0) {
				if (node_add(stack[depth - 1], n)) {
					node_free(n);
					r = oom(c);
					n = NULL;
				}
			} else if (!*root) {
				*root = n;
			} else {
				node_free(n); /* cannot happen: one document, one root */
				n = NULL;
			}
			if (n && open)
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return r;
}

/* ---- mappings ---- */

/* The value of key in mapping m, or NULL (also when m is null or not a mapping). */
static const struct node *map_get(const struct node *m, const char *key)
{
	size_t klen = strlen(key);

	if (!m || m->type != NODE_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct node *k = m->kids[i];

		if (k->type == NODE_SCALAR && k->len == klen && memcmp(k->str, key, klen) == 0)
			return m->kids[i + 1];
	}
	return NULL;
}

/*
 * Checks that n is a mapping (null counts as an empty one) whose keys are scalars, each
 * once and, when allowed is not NULL, from allowed ("unknown field", with for_what
 * after it when not NULL). With allowed NULL the keys are free, at most max_keys.
 */
static int check_map(struct pctx *c, const struct node *n, const char *path,
                     const char *const *allowed, const char *for_what, size_t max_keys)
{
	char kp[PATH_CAP], names[256];
	struct qbuf q;

	if (is_null(n))
		return 0;
	if (n->type != NODE_MAP)
		return expected(c, n, path, "a mapping");
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct node *k = n->kids[i];

		if (k->type != NODE_SCALAR)
			return fail(c, k->line, path, "a key must be a scalar, got %s",
			            desc(k, &q));
		join(kp, path, key_text(k, &q));
		if (!allowed && i / 2 >= max_keys)
			return fail(c, k->line, kp, "too many entries (at most %zu)", max_keys);
		if (allowed && (memchr(k->str, '\0', k->len) || in_list(k->str, allowed) < 0)) {
			list_names(names, sizeof(names), allowed);
			return fail(c, k->line, kp, "unknown field%s%s (expected %s)",
			            for_what ? " " : "", for_what ? for_what : "", names);
		}
		for (size_t j = 0; j < i; j += 2) {
			const struct node *o = n->kids[j];

			if (o->len == k->len && memcmp(o->str, k->str, k->len) == 0)
				return fail(c, k->line, kp, "duplicate key (first at line %d)",
				            o->line);
		}
	}
	return 0;
}

/* ---- scalar fields: each leaves *out alone when the key is absent ---- */

static int field_u64(struct pctx *c, const struct node *m, const char *path, const char *key,
                     uint64_t min, uint64_t max, uint64_t *out)
{
	const struct node *v = map_get(m, key);
	char p[PATH_CAP], what[96];
	const char *s;

	if (!v)
		return 0;
	s = scalar(v);
	if (!s || mc_parse_u64(s, min, max, out)) {
		snprintf(what, sizeof(what), "an integer %" PRIu64 "..%" PRIu64, min, max);
		return expected(c, v, join(p, path, key), what);
	}
	return 0;
}

static int field_uint(struct pctx *c, const struct node *m, const char *path, const char *key,
                      unsigned min, unsigned max, unsigned *out)
{
	uint64_t v = *out;
	int r = field_u64(c, m, path, key, min, max, &v);

	if (r == 0)
		*out = (unsigned)v;
	return r;
}

/* Parses "<digits><unit>" with unit us, ms, s, m or h into microseconds. */
static int parse_duration_us(const char *s, uint64_t *us)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {
	        {"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000ull}};
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < MC_ARRAY_SIZE(units); i++)
		if (strcmp(end, units[i].unit) == 0) {
			if (v > UINT64_MAX / units[i].mul)
				return -EINVAL;
			*us = v * units[i].mul;
			return 0;
		}
	return -EINVAL;
}

/* A duration field in whole milliseconds within [min, max]; "auto" gives 0 if allowed. */
static int field_ms(struct pctx *c, const struct node *m, const char *path, const char *key,
                    uint64_t min, uint64_t max, const char *what, int allow_auto, uint64_t *out)
{
	const struct node *v = map_get(m, key);
	char p[PATH_CAP];
	const char *s;
	uint64_t us;

	if (!v)
		return 0;
	s = scalar(v);
	if (s && allow_auto && strcmp(s, "auto") == 0) {
		*out = 0;
		return 0;
	}
	if (!s || parse_duration_us(s, &us) || us % 1000 || us / 1000 < min || us / 1000 > max)
		return expected(c, v, join(p, path, key), what);
	*out = us / 1000;
	return 0;
}

static int field_bool(struct pctx *c, const struct node *m, const char *path, const char *key,
                      int *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", NULL};
	static const char *const no[] = {"false", "False", "FALSE", NULL};
	const struct node *v = map_get(m, key);
	char p[PATH_CAP];
	const char *s;

	if (!v)
		return 0;
	s = scalar(v);
	if (s && in_list(s, yes) >= 0)
		*out = 1;
	else if (s && in_list(s, no) >= 0)
		*out = 0;
	else
		return expected(c, v, join(p, path, key), "true or false");
	return 0;
}

/* A value from names: *out is its index. noun names it in "unknown NOUN". */
static int field_enum(struct pctx *c, const struct node *m, const char *path, const char *key,
                      const char *noun, const char *const *names, int *out)
{
	const struct node *v = map_get(m, key);
	char p[PATH_CAP], list[128], what[160];
	const char *s;
	struct qbuf q;
	int i;

	if (!v)
		return 0;
	join(p, path, key);
	list_names(list, sizeof(list), names);
	s = scalar(v);
	if (!s) {
		snprintf(what, sizeof(what), "one of %s", list);
		return expected(c, v, p, what);
	}
	if ((i = in_list(s, names)) < 0)
		return fail(c, v->line, p, "unknown %s %s (expected %s)", noun,
		            quote(v->str, v->len, &q), list);
	*out = i;
	return 0;
}

/* A string of 1..max bytes into a fixed buffer of at least max + 1 bytes. */
static int field_str(struct pctx *c, const struct node *m, const char *path, const char *key,
                     const char *what, size_t max, char *out)
{
	const struct node *v = map_get(m, key);
	char p[PATH_CAP];
	const char *s;

	if (!v)
		return 0;
	s = scalar(v);
	if (!s || v->len == 0 || v->len > max)
		return expected(c, v, join(p, path, key), what);
	memcpy(out, s, v->len + 1);
	return 0;
}

/* Like field_str, into a fresh copy: caller owns *out (freed first if set). */
static int field_strdup(struct pctx *c, const struct node *m, const char *path, const char *key,
                        const char *what, size_t max, char **out)
{
	const struct node *v = map_get(m, key);
	char p[PATH_CAP];
	const char *s;
	char *d;

	if (!v)
		return 0;
	s = scalar(v);
	if (!s || v->len == 0 || v->len > max)
		return expected(c, v, join(p, path, key), what);
	if (!(d = strdup(s)))
		return oom(c);
	free(*out);
	*out = d;
	return 0;
}

static int valid_name(const char *s, size_t len)
{
	/* Names become file names: no ".", "..", or leading '-'. */
	if (len == 0 || len > MC_EXP_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

#define NAME_WHAT "a name of 1-48 letters, digits, '.', '_' or '-', starting with a letter or digit"

static int field_name(struct pctx *c, const struct node *m, const char *path, int line, char *out)
{
	const struct node *v = map_get(m, "name");
	char p[PATH_CAP];
	const char *s;

	join(p, path, "name");
	if (!v)
		return fail(c, line, p, "required field is missing");
	s = scalar(v);
	if (!s || !valid_name(s, v->len))
		return expected(c, v, p, NAME_WHAT);
	memcpy(out, s, v->len + 1);
	return 0;
}

/* ---- sections ---- */

static int parse_cluster(struct pctx *c, const struct node *n)
{
	struct mc_exp_cluster *cl = &c->e->cluster;
	const struct node *v;
	struct qbuf q;
	int r, spawn = cl->clone ? 0 : 1;

	if ((r = check_map(c, n, "cluster", cluster_keys, NULL, 0)) ||
	    (r = field_uint(c, n, "cluster", "guests", 1, 65534, &cl->guests)) ||
	    (r = field_enum(c, n, "cluster", "spawn", "spawn mode", spawn_names, &spawn)))
		return r;
	cl->clone = spawn == 0;
	if ((v = map_get(n, "memory")) != NULL) {
		const char *s = scalar(v);
		uint64_t mib;

		if (!s || mc_parse_mib(s, &mib) || mib < 32 || mib > 65536)
			return expected(c, v, "cluster.memory",
			                "a size 32M..64G (M or G suffix; a plain number is MiB)");
		cl->mem_mib = mib;
	}
	if ((r = field_uint(c, n, "cluster", "vcpus", 1, 64, &cl->vcpus)) ||
	    (r = field_str(c, n, "cluster", "kernel", "project, cloud or a path",
	                   sizeof(cl->kernel) - 1, cl->kernel)))
		return r;
	if (strcmp(cl->kernel, "project") && strcmp(cl->kernel, "cloud") &&
	    !strchr(cl->kernel, '/')) {
		v = map_get(n, "kernel");
		return fail(c, v->line, "cluster.kernel",
		            "unknown kernel %s (expected project, cloud or a path containing '/')",
		            quote(v->str, v->len, &q));
	}
	if ((r = field_str(c, n, "cluster", "image", "an image name or a qcow2 path",
	                   sizeof(cl->image) - 1, cl->image)) ||
	    (r = field_str(c, n, "cluster", "share", "a host directory", sizeof(cl->share) - 1,
	                   cl->share)))
		return r;
	if ((r = field_bool(c, n, "cluster", "density", &cl->density)) ||
	    (r = field_ms(c, n, "cluster", "heartbeat", 50, 600000, "a duration 50ms..10m or auto",
	                  1, &cl->heartbeat_ms)) ||
	    (r = field_ms(c, n, "cluster", "heartbeat_timeout", 100, 3600000,
	                  "a duration 100ms..1h or auto", 1, &cl->heartbeat_timeout_ms)))
		return r;
	if ((v = map_get(n, "tb_size")) != NULL) {
		const char *s = scalar(v);
		uint64_t mib;

		if (s && strcmp(s, "auto") == 0)
			cl->tb_mib = 0;
		else if (!s || mc_parse_u64(s, 4, 2048, &mib))
			return expected(c, v, "cluster.tb_size", "4..2048 (MiB) or auto");
		else
			cl->tb_mib = (unsigned)mib;
	}
	return 0;
}

/* Matches "<digits>[.<digits>]" at the start of s; returns its length, 0 if none. */
static size_t decimal_len(const char *s)
{
	size_t i = 0;

	while (isdigit((unsigned char)s[i]))
		i++;
	if (i == 0)
		return 0;
	if (s[i] == '.') {
		size_t j = i + 1;

		while (isdigit((unsigned char)s[j]))
			j++;
		if (j == i + 1)
			return 0;
		i = j;
	}
	return i;
}

static int nonzero_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= '1' && s[i] <= '9')
			return 1;
	return 0;
}

static int valid_delay(const char *s)
{
	size_t n = decimal_len(s);

	return n && (!strcmp(s + n, "us") || !strcmp(s + n, "ms") || !strcmp(s + n, "s"));
}

static int valid_rate(const char *s)
{
	static const char *const units[] = {"bit", "kbit", "mbit", "gbit", "tbit",
	                                    "bps", "kbps", "mbps", "gbps", "tbps"};
	size_t n = decimal_len(s);

	if (!n || !nonzero_digits(s, n))
		return 0;
	for (size_t i = 0; i < MC_ARRAY_SIZE(units); i++)
		if (strcasecmp(s + n, units[i]) == 0)
			return 1;
	return 0;
}

static int valid_percent(const char *s)
{
	size_t n = decimal_len(s), ip = 0;
	const char *d = s;
	unsigned v = 0;

	if (!n || strcmp(s + n, "%"))
		return 0;
	while (isdigit((unsigned char)s[ip]))
		ip++;
	/* The integer part without leading zeros: at most "100". */
	for (size_t i = 0; i + 1 < ip && *d == '0'; i++)
		d++;
	if (ip - (size_t)(d - s) > 3)
		return 0;
	for (; d < s + ip; d++)
		v = v * 10 + (unsigned)(*d - '0');
	return v < 100 || (v == 100 && !nonzero_digits(s + ip, n - ip));
}

/* Validates one network setting and appends it to the experiment. */
static int add_setting(struct pctx *c, const char *key, enum vtype type, const struct node *v)
{
	struct mc_exp_setting *st;
	char p[PATH_CAP], list[64];
	const char *s = scalar(v), *what = NULL;
	uint64_t x;
	struct qbuf q;
	int ok = 0;

	snprintf(p, sizeof(p), "network.%s", key);
	switch (type) {
	case V_DELAY:
		what = "a delay like 50us or 1.5ms (units us, ms, s)";
		ok = s && valid_delay(s);
		break;
	case V_RATE:
		what = "a rate like 1Gbit or 100mbit (units bit, kbit, mbit, gbit, tbit, bps, "
		       "kbps, mbps, gbps, tbps)";
		ok = s && valid_rate(s);
		break;
	case V_PERCENT:
		what = "a percentage 0%..100%";
		ok = s && valid_percent(s);
		break;
	case V_RACK:
		what = "an integer 1..65534";
		ok = s && mc_parse_u64(s, 1, 65534, &x) == 0;
		break;
	case V_OVERSUB:
		what = "an integer 1..1024";
		ok = s && mc_parse_u64(s, 1, 1024, &x) == 0;
		break;
	case V_TOPO_KIND:
		list_names(list, sizeof(list), topo_kind_names);
		if (s && in_list(s, topo_kind_names) < 0)
			return fail(c, v->line, p, "unknown topology kind %s (expected %s)",
			            quote(v->str, v->len, &q), list);
		what = "one of flat, fat-tree";
		ok = s != NULL;
		break;
	}
	if (!ok || v->len >= sizeof(st->value))
		return expected(c, v, p, what);
	if (c->e->n_network >= MC_EXP_MAX_NETWORK)
		return fail(c, v->line, p, "too many network settings");
	st = &c->e->network[c->e->n_network++];
	snprintf(st->key, sizeof(st->key), "%s", key);
	memcpy(st->value, s, v->len + 1);
	st->line = v->line;
	return 0;
}

static const struct vkey *find_vkey(const struct vkey *t, const char *key)
{
	for (; t->key; t++)
		if (strcmp(t->key, key) == 0)
			return t;
	return NULL;
}

/* Link keys of one mapping (network, topology.intra, topology.inter), in file order.
 * prefix is "" or "topology.intra." etc. */
static int parse_link_map(struct pctx *c, const struct node *n, const char *path,
                          const char *const *allowed, const char *prefix)
{
	char key[64];
	int r;

	if ((r = check_map(c, n, path, allowed, NULL, 0)))
		return r;
	if (n->type != NODE_MAP)
		return 0;
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct node *k = n->kids[i], *v = n->kids[i + 1];
		const struct vkey *vk;

		if (strcmp(k->str, "topology") == 0) {
			const struct node *t = v;

			if ((r = check_map(c, t, "network.topology", topology_keys, NULL, 0)))
				return r;
			if (t->type != NODE_MAP)
				continue;
			for (size_t j = 0; j + 1 < t->n; j += 2) {
				const struct node *tk = t->kids[j], *tv = t->kids[j + 1];
				char tp[PATH_CAP];

				snprintf(key, sizeof(key), "topology.%s", tk->str);
				if ((vk = find_vkey(topo_vkeys, tk->str)) != NULL) {
					r = add_setting(c, key, vk->type, tv);
				} else {
					snprintf(tp, sizeof(tp), "network.%s", key);
					snprintf(key, sizeof(key), "topology.%s.", tk->str);
					r = parse_link_map(c, tv, tp, link_keys, key);
				}
				if (r)
					return r;
			}
			continue;
		}
		vk = find_vkey(link_vkeys, k->str);
		snprintf(key, sizeof(key), "%s%s", prefix, k->str);
		if ((r = add_setting(c, key, vk->type, v)))
			return r;
	}
	return 0;
}

static int valid_env_name(const char *s, size_t len)
{
	if (len == 0 || len > 255 || isdigit((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

static int parse_env(struct pctx *c, struct mc_exp_workload *w, const struct node *n,
                     const char *path)
{
	char p[PATH_CAP];
	struct qbuf q;
	int r;

	if (!n)
		return 0;
	if ((r = check_map(c, n, path, NULL, NULL, MC_EXP_MAX_ENV)))
		return r;
	if (n->type != NODE_MAP || n->n == 0)
		return 0;
	if (!(w->env = calloc(n->n / 2, sizeof(*w->env))))
		return oom(c);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct node *k = n->kids[i], *v = n->kids[i + 1];
		struct mc_exp_env *ev = &w->env[w->envc];
		const char *s = scalar(v);

		join(p, path, key_text(k, &q));
		if (memchr(k->str, '\0', k->len) || !valid_env_name(k->str, k->len))
			return fail(c, k->line, p,
			            "not a variable name (expected [A-Za-z_][A-Za-z0-9_]*)");
		if (!s || v->len > MC_EXP_MAX_ARG_BYTES) {
			if (s)
				return fail(c, v->line, p, "value longer than %d bytes",
				            MC_EXP_MAX_ARG_BYTES);
			return expected(c, v, p, "a string (write \"\" for an empty one)");
		}
		if (!(ev->name = strdup(k->str)) || !(ev->value = strdup(s))) {
			free(ev->name);
			ev->name = NULL;
			return oom(c);
		}
		w->envc++;
	}
	return 0;
}

static int parse_args(struct pctx *c, struct mc_exp_workload *w, const struct node *n,
                      const char *path)
{
	size_t count = 0;
	char p[PATH_CAP];
	struct qbuf q;

	if (n && !is_null(n)) {
		if (n->type != NODE_SEQ)
			return expected(c, n, path, "a sequence of strings");
		if (n->n > MC_EXP_MAX_ARGS) {
			snprintf(p, sizeof(p), "%s[%d]", path, MC_EXP_MAX_ARGS);
			return fail(c, n->kids[MC_EXP_MAX_ARGS]->line, p,
			            "too many arguments (at most %d)", MC_EXP_MAX_ARGS);
		}
		count = n->n;
	}
	if (!(w->argv = calloc(count + 1, sizeof(*w->argv))))
		return oom(c);
	for (size_t i = 0; i < count; i++) {
		const struct node *v = n->kids[i];

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (v->type != NODE_SCALAR || is_null(v))
			return expected(c, v, p, "a string");
		if (memchr(v->str, '\0', v->len))
			return fail(c, v->line, p, "contains a NUL byte: %s",
			            quote(v->str, v->len, &q));
		if (v->len > MC_EXP_MAX_ARG_BYTES)
			return fail(c, v->line, p, "argument longer than %d bytes",
			            MC_EXP_MAX_ARG_BYTES);
		if (!(w->argv[i] = strdup(v->str)))
			return oom(c);
		w->argc++;
	}
	return 0;
}

/* tracing: {enabled: BOOL, events: [PATTERN, ...], flush: DURATION | off} */
static int parse_tracing(struct pctx *c, const struct node *n)
{
	struct mc_experiment *e = c->e;
	const struct node *ev, *fl;
	char p[PATH_CAP];
	int r;

	if ((r = check_map(c, n, "tracing", tracing_keys, NULL, 0)) ||
	    (r = field_bool(c, n, "tracing", "enabled", &e->tracing)))
		return r;
	fl = map_get(n, "flush");
	if (fl && scalar(fl) && strcmp(scalar(fl), "off") == 0)
		e->trace_flush_ms = 0;
	else if ((r = field_ms(c, n, "tracing", "flush", 10, 60000,
	                       "a duration from 10ms to 60s, or off", 0, &e->trace_flush_ms)))
		return r;
	if (!(ev = map_get(n, "events")) || is_null(ev))
		return 0;
	if (ev->type != NODE_SEQ)
		return expected(c, ev, "tracing.events", "a sequence of event patterns");
	if (ev->n > MC_EXP_MAX_TRACE_EVENTS)
		return fail(c, ev->line, "tracing.events", "too many patterns (at most %d)",
		            MC_EXP_MAX_TRACE_EVENTS);
	for (size_t i = 0; i < ev->n; i++) {
		const struct node *v = ev->kids[i];

		snprintf(p, sizeof(p), "tracing.events[%zu]", i);
		if (v->type != NODE_SCALAR || is_null(v) || v->len == 0 ||
		    v->len >= sizeof(e->trace_events[0]) ||
		    strspn(v->str, "abcdefghijklmnopqrstuvwxyz"
		                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                   "0123456789_:*") != v->len)
			return expected(c, v, p,
			                "an LTTng event pattern of letters, digits, _ : and *, "
			                "e.g. microcosm_mpi:*");
		memcpy(e->trace_events[i], v->str, v->len + 1);
		e->n_trace_events++;
	}
	return 0;
}

static int parse_workload(struct pctx *c, const struct node *n, unsigned idx)
{
	struct mc_exp_workload *w = &c->e->workloads[idx];
	const struct mc_exp_cluster *cl = &c->e->cluster;
	char path[PATH_CAP], p[PATH_CAP], what[96];
	const struct node *v;
	int kind = -1, r;

	snprintf(path, sizeof(path), "workloads[%u]", idx);
	if (n->type != NODE_MAP)
		return expected(c, n, path, "a mapping");
	w->line = n->line;
	if (!map_get(n, "kind"))
		return fail(c, n->line, join(p, path, "kind"), "required field is missing");
	if ((r = field_enum(c, n, path, "kind", "kind", kind_names, &kind)))
		return r;
	w->kind = (enum mc_exp_kind)kind;
	snprintf(what, sizeof(what), "for kind %s", kind_names[kind]);
	if ((r = check_map(c, n, path, kind_keys[kind], what, 0)) ||
	    (r = field_name(c, n, path, n->line, w->name)))
		return r;
	for (unsigned j = 0; j < idx; j++)
		if (strcmp(c->e->workloads[j].name, w->name) == 0)
			return fail(
			        c, map_get(n, "name")->line, join(p, path, "name"),
			        "duplicate workload name \"%s\" (first at workloads[%u], line %d)",
			        w->name, j, c->e->workloads[j].line);
	w->repeat = c->e->repeat ? c->e->repeat : 1;
	w->timeout_ms = 600000;
	if ((r = field_uint(c, n, path, "repeat", 1, 10000, &w->repeat)) ||
	    (r = field_ms(c, n, path, "timeout", 1000, 86400000, "a duration 1s..24h", 0,
	                  &w->timeout_ms)) ||
	    (r = parse_env(c, w, map_get(n, "env"), join(p, path, "env"))))
		return r;
	if (w->kind == MC_EXP_MPI || w->kind == MC_EXP_EXEC) {
		if (!map_get(n, "program"))
			return fail(c, n->line, join(p, path, "program"),
			            "required field is missing");
		if ((r = field_strdup(c, n, path, "program", "a program name or path",
		                      MC_EXP_MAX_ARG_BYTES, &w->program)) ||
		    (r = parse_args(c, w, map_get(n, "args"), join(p, path, "args"))))
			return r;
	}
	switch (w->kind) {
	case MC_EXP_MPI: {
		uint64_t max;

		w->ppn = 1;
		if ((r = field_uint(c, n, path, "ppn", 1, 256, &w->ppn)))
			return r;
		max = (uint64_t)cl->guests * w->ppn;
		w->ranks = (unsigned)max;
		if ((v = map_get(n, "ranks")) != NULL) {
			const char *s = scalar(v);
			uint64_t x;

			if (!s || mc_parse_u64(s, 1, max, &x)) {
				snprintf(what, sizeof(what),
				         "an integer 1..%" PRIu64 " (guests x ppn)", max);
				return expected(c, v, join(p, path, "ranks"), what);
			}
			w->ranks = (unsigned)x;
		}
		break;
	}
	case MC_EXP_TASKFARM:
		w->tasks = 1000;
		w->task_ms = 10;
		w->workers = cl->guests > 1 ? cl->guests - 1 : 1;
		w->kill_after_ms = 1000;
		if ((r = field_uint(c, n, path, "tasks", 1, 10000000, &w->tasks)) ||
		    (r = field_uint(c, n, path, "task_ms", 0, 3600000, &w->task_ms)) ||
		    (r = field_uint(c, n, path, "workers", 1, 65534, &w->workers)) ||
		    (r = field_ms(c, n, path, "kill_after", 1, 86400000, "a duration 1ms..24h", 0,
		                  &w->kill_after_ms)))
			return r;
		if ((v = map_get(n, "kill_workers")) != NULL) {
			const char *s = scalar(v);
			uint64_t x;

			if (!s || mc_parse_u64(s, 0, w->workers - 1, &x)) {
				snprintf(what, sizeof(what),
				         "an integer 0..%u (fewer than workers)", w->workers - 1);
				return expected(c, v, join(p, path, "kill_workers"), what);
			}
			w->kill_workers = (unsigned)x;
		}
		break;
	case MC_EXP_EXEC: {
		struct mc_target t;

		if (!(w->target = strdup("all")))
			return oom(c);
		if ((v = map_get(n, "target")) != NULL) {
			const char *s = scalar(v);

			if (!s || v->len >= 1024 || mc_target_parse(s, &t))
				return expected(c, v, join(p, path, "target"),
				                "a target set (all, g0000-g0003, 0,2,5)");
			free(w->target);
			if (!(w->target = strdup(s)))
				return oom(c);
		}
		break;
	}
	}
	return 0;
}

static int parse_workloads(struct pctx *c, const struct node *n)
{
	char p[PATH_CAP];
	int r;

	if (!n || is_null(n))
		return 0;
	if (n->type != NODE_SEQ)
		return expected(c, n, "workloads", "a sequence");
	if (n->n > MC_EXP_MAX_WORKLOADS) {
		snprintf(p, sizeof(p), "workloads[%d]", MC_EXP_MAX_WORKLOADS);
		return fail(c, n->kids[MC_EXP_MAX_WORKLOADS]->line, p,
		            "too many workloads (at most %d)", MC_EXP_MAX_WORKLOADS);
	}
	if (n->n == 0)
		return 0;
	if (!(c->e->workloads = calloc(n->n, sizeof(*c->e->workloads))))
		return oom(c);
	for (size_t i = 0; i < n->n; i++) {
		c->e->n_workloads++; /* counted first: destroy frees a half-built one */
		if ((r = parse_workload(c, n->kids[i], (unsigned)i)))
			return r;
	}
	return 0;
}

/* ---- faults ---- */

/* A required field of mapping m: fails at m's line when it is missing. */
static int required(struct pctx *c, const struct node *m, const char *path, const char *key)
{
	char p[PATH_CAP];

	if (map_get(m, key))
		return 0;
	return fail(c, m->line, join(p, path, key), "required field is missing");
}

static int parse_after(struct pctx *c, struct mc_exp_fault *f, const struct node *n,
                       const char *path)
{
	char p[PATH_CAP];
	const struct node *v;
	int ev = 0, r;

	if (n->type != NODE_MAP)
		return expected(c, n, path, "a mapping");
	if ((r = required(c, n, path, "event")) ||
	    (r = field_enum(c, n, path, "event", "event", event_names, &ev)) ||
	    (r = check_map(c, n, path, ev == 0 ? output_keys : heartbeat_keys,
	                   ev == 0 ? "for event output" : "for event heartbeat", 0)))
		return r;
	f->event = (enum mc_exp_event)ev;
	if (f->event == MC_EXP_EVENT_OUTPUT) {
		if ((r = required(c, n, path, "match")))
			return r;
		return field_str(c, n, path, "match", "a string of 1-128 bytes", MC_EXP_MATCH_MAX,
		                 f->match);
	}
	if ((r = required(c, n, path, "guest")))
		return r;
	v = map_get(n, "guest");
	if (!scalar(v) || v->len >= sizeof(f->guest) ||
	    mc_fault_guest_parse(v->str, &f->guest_index))
		return expected(c, v, join(p, path, "guest"), "a guest name like g0003");
	memcpy(f->guest, v->str, v->len + 1);
	f->guest_line = v->line;
	f->count = 1;
	return field_uint(c, n, path, "count", 1, 1000000, &f->count);
}

static int parse_distribution(struct pctx *c, struct mc_exp_fault *f, const struct node *n,
                              const char *path)
{
	char p[PATH_CAP];
	const struct node *v;
	int kind = 0, r;

	if (n->type != NODE_MAP)
		return expected(c, n, path, "a mapping");
	if ((r = required(c, n, path, "kind")) ||
	    (r = field_enum(c, n, path, "kind", "distribution", dist_names, &kind)) ||
	    (r = check_map(c, n, path, kind == 0 ? exponential_keys : weibull_keys,
	                   kind == 0 ? "for distribution exponential" : "for distribution weibull",
	                   0)))
		return r;
	f->dist = (enum mc_exp_dist)kind;
	if (f->dist == MC_EXP_EXPONENTIAL) {
		if ((r = required(c, n, path, "mtbf")))
			return r;
		return field_ms(c, n, path, "mtbf", 1, YEAR_MS, "a duration 1ms..8760h", 0,
		                &f->mtbf_ms);
	}
	if ((r = required(c, n, path, "shape")) || (r = required(c, n, path, "scale")) ||
	    (r = field_ms(c, n, path, "scale", 1, YEAR_MS, "a duration 1ms..8760h", 0,
	                  &f->scale_ms)))
		return r;
	v = map_get(n, "shape");
	{
		const char *s = scalar(v);
		char *end;
		double d = 0;

		if (s && (isdigit((unsigned char)s[0]) || s[0] == '.')) {
			errno = 0;
			d = strtod(s, &end);
			if (errno || *end)
				d = 0;
		}
		if (!(d > 0 && d <= 100))
			return expected(c, v, join(p, path, "shape"),
			                "a number above 0 and at most 100, e.g. 0.8");
		f->shape = d;
	}
	return 0;
}

static int parse_params(struct pctx *c, struct mc_exp_fault *f, const struct node *n,
                        const struct node *entry, const char *path)
{
	const struct mc_fault_kind *k = f->kind;
	char p[PATH_CAP], names[128], why[160];
	struct qbuf q;
	size_t o = 0;
	int r;

	names[0] = '\0';
	for (int i = 0; i < MC_FAULT_MAX_PARAMS && k->params[i].key; i++)
		o += (size_t)snprintf(names + o, o < sizeof(names) ? sizeof(names) - o : 0, "%s%s",
		                      i ? ", " : "", k->params[i].key);
	if (n && (r = check_map(c, n, path, NULL, NULL, 16)))
		return r;
	for (size_t i = 0; n && n->type == NODE_MAP && i + 1 < n->n; i += 2) {
		const struct node *kn = n->kids[i], *v = n->kids[i + 1];
		const struct mc_fault_param *fp = NULL;
		const char *s = scalar(v);

		join(p, path, key_text(kn, &q));
		if (!memchr(kn->str, '\0', kn->len))
			fp = mc_fault_param_find(k, kn->str);
		if (!fp && !names[0])
			return fail(c, kn->line, p, "kind %s takes no parameters", k->name);
		if (!fp)
			return fail(c, kn->line, p, "unknown parameter for kind %s (expected %s)",
			            k->name, names);
		if (!s || v->len > MC_EXP_PARAM_MAX)
			return expected(c, v, p, "a value of at most 63 bytes");
		if (mc_fault_param_check(fp, s, why, sizeof(why)))
			return expected(c, v, p, why);
		snprintf(f->params[f->n_params].key, sizeof(f->params[0].key), "%s", fp->key);
		memcpy(f->params[f->n_params].value, s, v->len + 1);
		f->n_params++;
	}
	for (int i = 0; i < MC_FAULT_MAX_PARAMS && k->params[i].key; i++) {
		if (!k->params[i].required || (n && map_get(n, k->params[i].key)))
			continue;
		return fail(c, n ? n->line : entry->line, join(p, path, k->params[i].key),
		            "required parameter is missing");
	}
	return 0;
}

static int parse_fault(struct pctx *c, const struct node *n, unsigned idx)
{
	struct mc_experiment *e = c->e;
	struct mc_exp_fault *f = &e->faults[idx];
	const struct node *v, *when = NULL, *when_key = NULL;
	char path[PATH_CAP], p[PATH_CAP], names[256];
	const char *wnames[MC_EXP_MAX_WORKLOADS + 1];
	struct mc_fault_target t;
	struct qbuf q;
	int r;

	snprintf(path, sizeof(path), "faults.plan[%u]", idx);
	if (n->type != NODE_MAP)
		return expected(c, n, path, "a mapping");
	f->line = n->line;
	if ((r = check_map(c, n, path, fault_keys, NULL, 0)) || (r = required(c, n, path, "kind")))
		return r;

	/* kind */
	v = map_get(n, "kind");
	if (!scalar(v))
		return expected(c, v, join(p, path, "kind"), "a fault kind");
	if (!(f->kind = mc_fault_kind_find(v->str)))
		return fail(c, v->line, join(p, path, "kind"), "unknown kind %s (expected %s)",
		            quote(v->str, v->len, &q), mc_fault_kind_names());

	/* name */
	if ((v = map_get(n, "name")) != NULL) {
		if (!scalar(v) || !valid_name(v->str, v->len))
			return expected(c, v, join(p, path, "name"), NAME_WHAT);
		memcpy(f->name, v->str, v->len + 1);
	} else {
		snprintf(f->name, sizeof(f->name), "%s-%u", f->kind->name, idx);
	}
	for (unsigned j = 0; j < idx; j++)
		if (strcmp(e->faults[j].name, f->name) == 0)
			return fail(
			        c, v ? v->line : n->line, join(p, path, "name"),
			        "duplicate fault name \"%s\" (first at faults.plan[%u], line %d)",
			        f->name, j, e->faults[j].line);

	/* workload */
	if (e->n_workloads == 0)
		return fail(c, n->line, path,
		            "a fault needs a workload to time it, and the file "
		            "has none");
	f->workload = 0;
	if ((v = map_get(n, "workload")) != NULL) {
		unsigned j;

		if (!scalar(v))
			return expected(c, v, join(p, path, "workload"), "a workload name");
		for (j = 0; j < e->n_workloads; j++)
			if (strcmp(e->workloads[j].name, v->str) == 0)
				break;
		if (j == e->n_workloads) {
			for (j = 0; j < e->n_workloads; j++)
				wnames[j] = e->workloads[j].name;
			wnames[j] = NULL;
			list_names(names, sizeof(names), wnames);
			return fail(c, v->line, join(p, path, "workload"),
			            "unknown workload %s (expected %s)", quote(v->str, v->len, &q),
			            names);
		}
		f->workload = j;
	}

	/* target */
	snprintf(f->target, sizeof(f->target), "all");
	f->target_line = n->line;
	if ((v = map_get(n, "target")) != NULL) {
		char why[160];

		join(p, path, "target");
		if (!scalar(v) || v->len > MC_EXP_TARGET_MAX)
			return expected(c, v, p, "a target of at most 255 bytes");
		if (mc_fault_target_parse(v->str, &t, why, sizeof(why)))
			return expected(c, v, p, why);
		if (t.kind == MC_FT_RANK && e->workloads[f->workload].kind != MC_EXP_MPI)
			return fail(c, v->line, p,
			            "rank(R) needs an mpi workload (workload \"%s\" is %s)",
			            e->workloads[f->workload].name,
			            kind_names[e->workloads[f->workload].kind]);
		memcpy(f->target, v->str, v->len + 1);
		f->target_line = v->line;
	}

	/* exactly one of at, after, distribution: the second in file order is the error */
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct node *k = n->kids[i];

		if (in_list(k->str, when_keys) < 0)
			continue;
		if (when_key)
			return fail(c, k->line, join(p, path, k->str),
			            "conflicts with %s (line %d): give one of at, after or "
			            "distribution",
			            when_key->str, when_key->line);
		when_key = k;
		when = n->kids[i + 1];
	}
	if (!when_key)
		return fail(c, n->line, path, "needs one of at, after or distribution");
	f->when = (enum mc_exp_when)in_list(when_key->str, when_keys);
	if ((v = map_get(n, "delay")) != NULL && f->when != MC_EXP_AFTER)
		return fail(c, v->line, join(p, path, "delay"), "only with after");
	if ((v = map_get(n, "horizon")) != NULL && f->when != MC_EXP_DISTRIBUTION)
		return fail(c, v->line, join(p, path, "horizon"), "only with distribution");
	switch (f->when) {
	case MC_EXP_AT:
		r = field_ms(c, n, path, "at", 0, DAY_MS, "a duration 0ms..24h", 0, &f->at_ms);
		break;
	case MC_EXP_AFTER:
		if (!(r = parse_after(c, f, when, join(p, path, "after"))))
			r = field_ms(c, n, path, "delay", 0, DAY_MS, "a duration 0ms..24h", 0,
			             &f->delay_ms);
		break;
	case MC_EXP_DISTRIBUTION:
		if (!(r = parse_distribution(c, f, when, join(p, path, "distribution")))) {
			if (!map_get(n, "horizon"))
				r = fail(c, n->line, join(p, path, "horizon"),
				         "required field is missing (distribution needs it)");
			else
				r = field_ms(c, n, path, "horizon", 1, DAY_MS,
				             "a duration 1ms..24h", 0, &f->horizon_ms);
		}
		break;
	}
	if (r)
		return r;

	/* duration, params */
	if ((v = map_get(n, "duration")) != NULL) {
		if (!f->kind->duration)
			return fail(c, v->line, join(p, path, "duration"),
			            "kind %s takes no duration (it is not reverted)",
			            f->kind->name);
		if ((r = field_ms(c, n, path, "duration", 1, DAY_MS, "a duration 1ms..24h", 0,
		                  &f->duration_ms)))
			return r;
	}
	return parse_params(c, f, map_get(n, "params"), n, join(p, path, "params"));
}

static int parse_faults(struct pctx *c, const struct node *n)
{
	struct mc_experiment *e = c->e;
	const struct node *v, *plan;
	char p[PATH_CAP];
	int r;

	if (is_null(n))
		return 0;
	if ((r = check_map(c, n, "faults", faults_keys, NULL, 0)))
		return r;
	if ((v = map_get(n, "seed")) != NULL) {
		const char *s = scalar(v);

		if (!s || mc_parse_u64(s, 0, INT64_MAX, &e->fault_seed))
			return expected(c, v, "faults.seed", "an integer 0..9223372036854775807");
		e->fault_seed_set = 1;
	}
	plan = map_get(n, "plan");
	if (!plan || is_null(plan))
		return 0;
	if (plan->type != NODE_SEQ)
		return expected(c, plan, "faults.plan", "a sequence");
	if (plan->n > MC_EXP_MAX_FAULTS) {
		snprintf(p, sizeof(p), "faults.plan[%d]", MC_EXP_MAX_FAULTS);
		return fail(c, plan->kids[MC_EXP_MAX_FAULTS]->line, p,
		            "too many fault entries (at most %d)", MC_EXP_MAX_FAULTS);
	}
	if (plan->n == 0)
		return 0;
	if (!(e->faults = calloc(plan->n, sizeof(*e->faults))))
		return oom(c);
	for (size_t i = 0; i < plan->n; i++) {
		e->n_faults++;
		if ((r = parse_fault(c, plan->kids[i], (unsigned)i)))
			return r;
	}
	return 0;
}

/* ---- prediction, policy, simulate (docs/policies.md) ---- */

#define HOURS_MS(h) (3600000ull * (h))

/* A number 0..1 (above 0 when !zero_ok): digits with an optional fraction, as 0.8 or 1. */
static int field_share(struct pctx *c, const struct node *m, const char *path, const char *key,
                       int zero_ok, double *out)
{
	const struct node *v = map_get(m, key);
	const char *s;
	char p[PATH_CAP], *end;
	double d = -1;

	if (!v)
		return 0;
	s = scalar(v);
	if (s && (isdigit((unsigned char)s[0]) || s[0] == '.')) {
		errno = 0;
		d = strtod(s, &end);
		if (errno || *end)
			d = -1;
	}
	if (!(d >= 0 && d <= 1) || (!zero_ok && d == 0))
		return expected(c, v, join(p, path, key),
		                zero_ok ? "a number 0..1, e.g. 0.8"
		                        : "a number above 0 and at most 1, e.g. 0.9");
	*out = d;
	return 0;
}

static int parse_prediction(struct pctx *c, const struct node *n)
{
	struct mc_exp_prediction *pr = &c->e->prediction;
	int r;

	if (is_null(n))
		return 0;
	pr->recall = 1;
	pr->precision = 1;
	if ((r = check_map(c, n, "prediction", prediction_keys, NULL, 0)) ||
	    (r = required(c, n, "prediction", "lead")) ||
	    (r = field_ms(c, n, "prediction", "lead", 1, DAY_MS, "a duration 1ms..24h", 0,
	                  &pr->lead_ms)) ||
	    (r = field_share(c, n, "prediction", "recall", 1, &pr->recall)) ||
	    (r = field_share(c, n, "prediction", "precision", 0, &pr->precision)))
		return r;
	pr->set = 1;
	pr->line = n->line;
	return 0;
}

/* The line of key's value in mapping m, or m's line. */
static int line_of(const struct node *m, const char *key)
{
	const struct node *v = map_get(m, key);

	return v ? v->line : m->line;
}

static int parse_policy(struct pctx *c, const struct node *n)
{
	struct mc_exp_policy *po = &c->e->policy;
	struct mc_policy_param pp[MC_EXP_MAX_POLICY_PARAMS];
	const struct node *v, *params;
	char p[PATH_CAP], why[320];
	struct qbuf q;
	int r;

	if (is_null(n))
		return 0;
	if ((r = check_map(c, n, "policy", policy_keys, NULL, 0)) ||
	    (r = required(c, n, "policy", "name")) ||
	    (r = field_str(c, n, "policy", "name", "a policy name or a path to a shared library",
	                   sizeof(po->name) - 1, po->name)))
		return r;
	v = map_get(n, "name");
	po->line = v->line;
	if (!mc_policy_is_path(po->name) && !mc_policy_builtin(po->name))
		return fail(c, v->line, "policy.name",
		            "unknown policy %s (expected %s, or a PATH.so)",
		            quote(v->str, v->len, &q), mc_policy_builtin_names());
	params = map_get(n, "params");
	if (params &&
	    (r = check_map(c, params, "policy.params", NULL, NULL, MC_EXP_MAX_POLICY_PARAMS)))
		return r;
	for (size_t i = 0; params && params->type == NODE_MAP && i + 1 < params->n; i += 2) {
		const struct node *kn = params->kids[i], *pv = params->kids[i + 1];
		struct mc_exp_param *dst = &po->params[po->n_params];
		const char *s = scalar(pv);

		join(p, "policy.params", key_text(kn, &q));
		if (kn->len == 0 || kn->len >= sizeof(dst->key) || memchr(kn->str, '\0', kn->len))
			return fail(c, kn->line, p, "a key of 1-31 bytes");
		if (!s || pv->len > MC_EXP_PARAM_MAX)
			return expected(c, pv, p, "a value of at most 63 bytes");
		memcpy(dst->key, kn->str, kn->len + 1);
		memcpy(dst->value, s, pv->len + 1);
		po->n_params++;
	}
	for (unsigned i = 0; i < po->n_params; i++) {
		pp[i].key = po->params[i].key;
		pp[i].value = po->params[i].value;
	}
	why[0] = '\0';
	if (mc_policy_check_builtin(po->name, pp, po->n_params, why, sizeof(why)) == -EINVAL) {
		/* The built-ins write "KEY: what is wrong". */
		const char *colon = strstr(why, ": ");

		if (colon && (size_t)(colon - why) < 32) {
			char key[32];

			memcpy(key, why, (size_t)(colon - why));
			key[colon - why] = '\0';
			join(p, "policy.params", key);
			return fail(c, params ? line_of(params, key) : po->line, p, "%s",
			            colon + 2);
		}
		return fail(c, po->line, "policy.params", "%s", why);
	}
	po->set = 1;
	return 0;
}

/* A cost: a duration 0ms..24h or "measured". */
static int field_cost(struct pctx *c, const struct node *m, const char *key,
                      struct mc_exp_cost *out)
{
	const struct node *v = map_get(m, key);
	const char *s;

	out->line = m->line;
	if (!v)
		return 0;
	out->line = v->line;
	s = scalar(v);
	if (s && strcmp(s, "measured") == 0) {
		out->measured = 1;
		out->ms = 0;
		return 0;
	}
	return field_ms(c, m, "simulate", key, 0, DAY_MS,
	                "a duration 0ms..24h or measured (the median from the results catalog)", 0,
	                &out->ms);
}

static int parse_simulate(struct pctx *c, const struct node *n)
{
	struct mc_exp_simulate *sm = &c->e->simulate;
	const struct node *v;
	int r, fk = 0;

	if (is_null(n))
		return 0;
	if ((r = check_map(c, n, "simulate", simulate_keys, NULL, 0)) ||
	    (r = required(c, n, "simulate", "work")) ||
	    (r = field_ms(c, n, "simulate", "work", 1000, HOURS_MS(87600), "a duration 1s..87600h",
	                  0, &sm->work_ms)) ||
	    (r = field_cost(c, n, "checkpoint_cost", &sm->checkpoint)) ||
	    (r = field_cost(c, n, "restart_cost", &sm->restart)) ||
	    (r = field_cost(c, n, "migrate_cost", &sm->migrate)) ||
	    (r = field_cost(c, n, "launch_cost", &sm->launch)) ||
	    (r = field_uint(c, n, "simulate", "nodes", 1, 10000000, &sm->nodes)) ||
	    (r = field_enum(c, n, "simulate", "failures", "failure model", failure_models, &fk)) ||
	    (r = field_ms(c, n, "simulate", "limit", 1000, HOURS_MS(876000),
	                  "a duration 1s..876000h or auto", 1, &sm->limit_ms)))
		return r;
	if ((v = map_get(n, "spares")) != NULL) {
		const char *s = scalar(v);
		uint64_t k;

		if (s && strcmp(s, "unlimited") == 0) {
			sm->spares_limited = 0;
		} else if (!s || mc_parse_u64(s, 0, 10000000, &k)) {
			return expected(c, v, "simulate.spares",
			                "an integer 0..10000000 or unlimited");
		} else {
			sm->spares_limited = 1;
			sm->spares = (unsigned)k;
		}
	}
	sm->plan_failures = fk;
	sm->set = 1;
	sm->line = n->line;
	return 0;
}

/* results.collect: [PATH, ...], absolute guest paths on the disk (under /data). */
static int parse_collect(struct pctx *c, const struct node *n)
{
	struct mc_experiment *e = c->e;
	char p[PATH_CAP];

	if (!n || is_null(n))
		return 0;
	if (n->type != NODE_SEQ)
		return expected(c, n, "results.collect", "a sequence of guest paths under /data");
	if (n->n > MC_EXP_MAX_COLLECT)
		return fail(c, n->line, "results.collect", "too many paths (at most %d)",
		            MC_EXP_MAX_COLLECT);
	for (size_t i = 0; i < n->n; i++) {
		const struct node *v = n->kids[i];

		snprintf(p, sizeof(p), "results.collect[%zu]", i);
		if (v->type != NODE_SCALAR || is_null(v) || v->len >= sizeof(e->collect[0]) ||
		    strncmp(v->str, "/data/", 6) != 0 || v->len == 6 || strstr(v->str, "/../") ||
		    strstr(v->str, "/./") || strstr(v->str, "//") ||
		    (v->len >= 3 && strcmp(v->str + v->len - 3, "/..") == 0))
			return expected(c, v, p,
			                "a path under /data (the guest's disk), e.g. /data/out or "
			                "/data/out/*.csv");
		memcpy(e->collect[i], v->str, v->len + 1);
		e->n_collect++;
	}
	return 0;
}

static int parse_top(struct pctx *c, const struct node *root)
{
	struct mc_experiment *e = c->e;
	const struct node *v;
	int r;

	if (!root || is_null(root))
		return fail(c, 1, "", "empty file (an experiment needs at least a name)");
	if (root->type != NODE_MAP)
		return expected(c, root, "", "a mapping at the top of the file");
	if ((r = check_map(c, root, "", top_keys, NULL, 0)) ||
	    (r = field_name(c, root, "", root->line, e->name)))
		return r;
	if ((v = map_get(root, "seed")) != NULL) {
		const char *s = scalar(v);

		if (s && strcmp(s, "auto") == 0) {
			e->seed_set = 0;
		} else if (!s || mc_parse_u64(s, 0, INT64_MAX, &e->seed)) {
			return expected(c, v, "seed", "an integer 0..9223372036854775807 or auto");
		} else {
			e->seed_set = 1;
		}
	}
	if ((v = map_get(root, "cluster")) != NULL && (r = parse_cluster(c, v)))
		return r;
	if ((v = map_get(root, "network")) != NULL &&
	    (r = parse_link_map(c, v, "network", network_keys, "")))
		return r;
	if ((r = field_uint(c, root, "", "repeat", 1, 10000, &e->repeat)))
		return r;
	if ((r = parse_workloads(c, map_get(root, "workloads"))))
		return r;
	if ((v = map_get(root, "faults")) != NULL && (r = parse_faults(c, v)))
		return r;
	if ((v = map_get(root, "tracing")) != NULL && (r = parse_tracing(c, v)))
		return r;
	if ((v = map_get(root, "prediction")) != NULL && (r = parse_prediction(c, v)))
		return r;
	if ((v = map_get(root, "policy")) != NULL && (r = parse_policy(c, v)))
		return r;
	if ((v = map_get(root, "simulate")) != NULL && (r = parse_simulate(c, v)))
		return r;
	if ((v = map_get(root, "results")) != NULL &&
	    ((r = check_map(c, v, "results", results_keys, NULL, 0)) ||
	     (r = field_str(c, v, "results", "dir", "a directory path", sizeof(e->results_dir) - 1,
	                    e->results_dir)) ||
	     (r = parse_collect(c, map_get(v, "collect")))))
		return r;
	return 0;
}

static void defaults(struct mc_experiment *e)
{
	e->cluster.guests = 4;
	e->cluster.clone = 1;
	e->cluster.mem_mib = 128;
	e->cluster.vcpus = 1;
	e->trace_flush_ms = MC_TRACE_FLUSH_MS;
	snprintf(e->cluster.kernel, sizeof(e->cluster.kernel), "project");
	snprintf(e->results_dir, sizeof(e->results_dir), "runs");
}

struct mc_experiment *mc_experiment_parse(const char *text, size_t len, const char *name_for_errors,
                                          char *err, size_t errlen)
{
	struct pctx c = {
	        .src = name_for_errors ? name_for_errors : "<input>", .err = err, .errlen = errlen};
	struct node *root = NULL;
	struct mc_experiment *e;

	set_err(err, errlen, "%s", "");
	if (len > MC_EXP_MAX_BYTES) {
		set_err(err, errlen, "%s: file larger than 1 MiB (%zu bytes)", c.src, len);
		return NULL;
	}
	if (!text && len) {
		set_err(err, errlen, "%s: no text", c.src);
		return NULL;
	}
	if (!(e = calloc(1, sizeof(*e))))
		goto nomem;
	c.e = e;
	defaults(e);
	if (!(e->source = strdup(c.src)) || !(e->text = malloc(len + 1)))
		goto nomem;
	if (len)
		memcpy(e->text, text, len);
	e->text[len] = '\0';
	e->text_len = len;
	if (load_tree(&c, e->text, len, &root) || parse_top(&c, root))
		goto fail;
	node_free(root);
	return e;
nomem:
	oom(&c);
fail:
	node_free(root);
	mc_experiment_destroy(&e);
	return NULL;
}

struct mc_experiment *mc_experiment_load(const char *path, char *err, size_t errlen)
{
	struct mc_experiment *e;
	char *buf = NULL;
	size_t len = 0;
	int r;

	/* One byte past the limit, so that a file of exactly the limit is read whole. */
	r = mc_read_file(path, MC_EXP_MAX_BYTES + 1, &buf, &len);
	if (r == -EFBIG || (r == 0 && len > MC_EXP_MAX_BYTES)) {
		set_err(err, errlen, "%s: file larger than 1 MiB", path);
		free(buf);
		return NULL;
	}
	if (r) {
		set_err(err, errlen, "%s: cannot read: %s", path, strerror(-r));
		return NULL;
	}
	e = mc_experiment_parse(buf, len, path, err, errlen);
	free(buf);
	return e;
}

void mc_experiment_destroy(struct mc_experiment **ep)
{
	struct mc_experiment *e;

	if (!ep || !(e = *ep))
		return;
	for (unsigned i = 0; i < e->n_workloads; i++) {
		struct mc_exp_workload *w = &e->workloads[i];

		for (unsigned j = 0; j < w->envc; j++) {
			free(w->env[j].name);
			free(w->env[j].value);
		}
		free(w->env);
		if (w->argv)
			for (unsigned j = 0; w->argv[j]; j++)
				free(w->argv[j]);
		free(w->argv);
		free(w->program);
		free(w->target);
	}
	free(e->workloads);
	free(e->faults);
	free(e->text);
	free(e->source);
	free(e);
	*ep = NULL;
}

int mc_experiment_network_each(const struct mc_experiment *e,
                               int (*fn)(void *ctx, const char *key, const char *value, char *err,
                                         size_t errlen),
                               void *ctx, char *err, size_t errlen)
{
	for (unsigned i = 0; i < e->n_network; i++) {
		const struct mc_exp_setting *st = &e->network[i];
		char why[256] = "";
		int r = fn(ctx, st->key, st->value, why, sizeof(why));

		if (r) {
			if (why[0])
				set_err(err, errlen, "%s:%d: network.%s: %s", e->source, st->line,
				        st->key, why);
			else
				set_err(err, errlen, "%s:%d: network.%s: invalid value \"%s\"",
				        e->source, st->line, st->key, st->value);
			return r < 0 ? r : -EINVAL;
		}
	}
	return 0;
}

/* ---- JSON ---- */

static json_t *json_duration(uint64_t ms)
{
	char buf[32];

	if (ms && ms % 3600000 == 0)
		snprintf(buf, sizeof(buf), "%" PRIu64 "h", ms / 3600000);
	else if (ms && ms % 60000 == 0)
		snprintf(buf, sizeof(buf), "%" PRIu64 "m", ms / 60000);
	else if (ms && ms % 1000 == 0)
		snprintf(buf, sizeof(buf), "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, sizeof(buf), "%" PRIu64 "ms", ms);
	return json_string(buf);
}

/* Sets o[key] = v, taking v; records a failure (v NULL or no memory) in *bad. */
static void jset(json_t *o, const char *key, json_t *v, int *bad)
{
	if (!o) {
		json_decref(v);
		*bad = 1;
	} else if (json_object_set_new(o, key, v)) {
		*bad = 1;
	}
}

static json_t *json_strings(char **v, unsigned n, int *bad)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])))
			*bad = 1;
	return a;
}

static json_t *json_network(const struct mc_experiment *e, int *bad)
{
	json_t *net = json_object();

	for (unsigned i = 0; net && i < e->n_network; i++) {
		const struct mc_exp_setting *st = &e->network[i];
		char key[sizeof(st->key)], *part, *dot;
		json_t *o = net, *v;

		snprintf(key, sizeof(key), "%s", st->key);
		for (part = key; (dot = strchr(part, '.')) != NULL; part = dot + 1) {
			json_t *sub;

			*dot = '\0';
			if (!(sub = json_object_get(o, part))) {
				jset(o, part, json_object(), bad);
				sub = json_object_get(o, part);
			}
			if (!sub) {
				*bad = 1;
				return net;
			}
			o = sub;
		}
		if (!strcmp(st->key, "topology.rack_size") ||
		    !strcmp(st->key, "topology.oversubscription"))
			v = json_integer(strtoll(st->value, NULL, 10));
		else
			v = json_string(st->value);
		jset(o, part, v, bad);
	}
	return net;
}

static json_t *json_workload(const struct mc_exp_workload *w, int *bad)
{
	json_t *o = json_object(), *env = json_object();

	jset(o, "name", json_string(w->name), bad);
	jset(o, "kind", json_string(kind_names[w->kind]), bad);
	switch (w->kind) {
	case MC_EXP_MPI:
		jset(o, "program", json_string(w->program), bad);
		jset(o, "args", json_strings(w->argv, w->argc, bad), bad);
		jset(o, "ranks", json_integer(w->ranks), bad);
		jset(o, "ppn", json_integer(w->ppn), bad);
		break;
	case MC_EXP_TASKFARM:
		jset(o, "tasks", json_integer(w->tasks), bad);
		jset(o, "task_ms", json_integer(w->task_ms), bad);
		jset(o, "workers", json_integer(w->workers), bad);
		jset(o, "kill_workers", json_integer(w->kill_workers), bad);
		jset(o, "kill_after", json_duration(w->kill_after_ms), bad);
		break;
	case MC_EXP_EXEC:
		jset(o, "target", json_string(w->target), bad);
		jset(o, "program", json_string(w->program), bad);
		jset(o, "args", json_strings(w->argv, w->argc, bad), bad);
		break;
	}
	jset(o, "repeat", json_integer(w->repeat), bad);
	jset(o, "timeout", json_duration(w->timeout_ms), bad);
	for (unsigned i = 0; i < w->envc; i++)
		jset(env, w->env[i].name, json_string(w->env[i].value), bad);
	jset(o, "env", env, bad);
	return o;
}

static json_t *json_fault(const struct mc_experiment *e, const struct mc_exp_fault *f, int *bad)
{
	json_t *o = json_object(), *params = json_object(), *w;

	jset(o, "name", json_string(f->name), bad);
	jset(o, "kind", json_string(f->kind->name), bad);
	jset(o, "target", json_string(f->target), bad);
	jset(o, "workload", json_string(e->workloads[f->workload].name), bad);
	switch (f->when) {
	case MC_EXP_AT:
		jset(o, "at", json_duration(f->at_ms), bad);
		break;
	case MC_EXP_AFTER:
		w = json_object();
		jset(w, "event", json_string(event_names[f->event]), bad);
		if (f->event == MC_EXP_EVENT_OUTPUT) {
			jset(w, "match", json_string(f->match), bad);
		} else {
			jset(w, "guest", json_string(f->guest), bad);
			jset(w, "count", json_integer(f->count), bad);
		}
		jset(o, "after", w, bad);
		jset(o, "delay", json_duration(f->delay_ms), bad);
		break;
	case MC_EXP_DISTRIBUTION:
		w = json_object();
		jset(w, "kind", json_string(dist_names[f->dist]), bad);
		if (f->dist == MC_EXP_EXPONENTIAL) {
			jset(w, "mtbf", json_duration(f->mtbf_ms), bad);
		} else {
			jset(w, "shape", json_real(f->shape), bad);
			jset(w, "scale", json_duration(f->scale_ms), bad);
		}
		jset(o, "distribution", w, bad);
		jset(o, "horizon", json_duration(f->horizon_ms), bad);
		break;
	}
	if (f->duration_ms)
		jset(o, "duration", json_duration(f->duration_ms), bad);
	for (unsigned i = 0; i < f->n_params; i++)
		jset(params, f->params[i].key, json_string(f->params[i].value), bad);
	jset(o, "params", params, bad);
	return o;
}

static json_t *json_faults(const struct mc_experiment *e, int *bad)
{
	json_t *o = json_object(), *plan = json_array();

	if (e->fault_seed_set)
		jset(o, "seed", json_integer((json_int_t)e->fault_seed), bad);
	for (unsigned i = 0; plan && i < e->n_faults; i++)
		if (json_array_append_new(plan, json_fault(e, &e->faults[i], bad)))
			*bad = 1;
	jset(o, "plan", plan, bad);
	return o;
}

static json_t *json_cost(const struct mc_exp_cost *k)
{
	return k->measured ? json_string("measured") : json_duration(k->ms);
}

/* prediction, policy and simulate, when the file has them. */
static void json_ft(const struct mc_experiment *e, json_t *root, int *bad)
{
	if (e->prediction.set) {
		json_t *o = json_object();

		jset(o, "lead", json_duration(e->prediction.lead_ms), bad);
		jset(o, "recall", json_real(e->prediction.recall), bad);
		jset(o, "precision", json_real(e->prediction.precision), bad);
		jset(root, "prediction", o, bad);
	}
	if (e->policy.set) {
		json_t *o = json_object(), *params = json_object();

		jset(o, "name", json_string(e->policy.name), bad);
		for (unsigned i = 0; i < e->policy.n_params; i++)
			jset(params, e->policy.params[i].key,
			     json_string(e->policy.params[i].value), bad);
		jset(o, "params", params, bad);
		jset(root, "policy", o, bad);
	}
	if (e->simulate.set) {
		const struct mc_exp_simulate *sm = &e->simulate;
		json_t *o = json_object();

		jset(o, "work", json_duration(sm->work_ms), bad);
		jset(o, "checkpoint_cost", json_cost(&sm->checkpoint), bad);
		jset(o, "restart_cost", json_cost(&sm->restart), bad);
		jset(o, "migrate_cost", json_cost(&sm->migrate), bad);
		jset(o, "launch_cost", json_cost(&sm->launch), bad);
		jset(o, "nodes", json_integer(sm->nodes ? sm->nodes : e->cluster.guests), bad);
		jset(o, "spares",
		     sm->spares_limited ? json_integer(sm->spares) : json_string("unlimited"), bad);
		jset(o, "failures", json_string(failure_models[sm->plan_failures]), bad);
		jset(o, "limit", sm->limit_ms ? json_duration(sm->limit_ms) : json_string("auto"),
		     bad);
		jset(root, "simulate", o, bad);
	}
}

json_t *mc_experiment_to_json(const struct mc_experiment *e)
{
	const struct mc_exp_cluster *cl = &e->cluster;
	json_t *root = json_object(), *cluster = json_object(), *wl = json_array(),
	       *results = json_object();
	char mem[32];
	int bad = 0;

	jset(root, "name", json_string(e->name), &bad);
	jset(root, "seed", e->seed_set ? json_integer((json_int_t)e->seed) : json_string("auto"),
	     &bad);
	jset(cluster, "guests", json_integer(cl->guests), &bad);
	jset(cluster, "spawn", json_string(cl->clone ? "clone" : "boot"), &bad);
	if (cl->mem_mib % 1024 == 0)
		snprintf(mem, sizeof(mem), "%" PRIu64 "G", cl->mem_mib / 1024);
	else
		snprintf(mem, sizeof(mem), "%" PRIu64 "M", cl->mem_mib);
	jset(cluster, "memory", json_string(mem), &bad);
	jset(cluster, "vcpus", json_integer(cl->vcpus), &bad);
	jset(cluster, "kernel", json_string(cl->kernel), &bad);
	jset(cluster, "density", json_boolean(cl->density), &bad);
	if (cl->image[0])
		jset(cluster, "image", json_string(cl->image), &bad);
	if (cl->share[0])
		jset(cluster, "share", json_string(cl->share), &bad);
	jset(cluster, "heartbeat",
	     cl->heartbeat_ms ? json_duration(cl->heartbeat_ms) : json_string("auto"), &bad);
	jset(cluster, "tb_size", cl->tb_mib ? json_integer(cl->tb_mib) : json_string("auto"), &bad);
	jset(cluster, "heartbeat_timeout",
	     cl->heartbeat_timeout_ms ? json_duration(cl->heartbeat_timeout_ms)
	                              : json_string("auto"),
	     &bad);
	jset(root, "cluster", cluster, &bad);
	jset(root, "network", json_network(e, &bad), &bad);
	for (unsigned i = 0; wl && i < e->n_workloads; i++)
		if (json_array_append_new(wl, json_workload(&e->workloads[i], &bad)))
			bad = 1;
	jset(root, "workloads", wl, &bad);
	jset(results, "dir", json_string(e->results_dir), &bad);
	if (e->n_collect) {
		json_t *col = json_array();

		for (unsigned i = 0; i < e->n_collect; i++)
			json_array_append_new(col, json_string(e->collect[i]));
		jset(results, "collect", col, &bad);
	}
	if (e->repeat)
		jset(root, "repeat", json_integer(e->repeat), &bad);
	jset(root, "results", results, &bad);
	if (e->tracing || e->n_trace_events) {
		json_t *tr = json_object(), *evs = json_array();

		for (unsigned i = 0; i < e->n_trace_events; i++)
			json_array_append_new(evs, json_string(e->trace_events[i]));
		jset(tr, "enabled", json_boolean(e->tracing), &bad);
		jset(tr, "events", evs, &bad);
		if (e->trace_flush_ms)
			jset(tr, "flush_ms", json_integer((json_int_t)e->trace_flush_ms), &bad);
		else
			jset(tr, "flush", json_string("off"), &bad);
		jset(root, "tracing", tr, &bad);
	}
	if (e->n_faults || e->fault_seed_set)
		jset(root, "faults", json_faults(e, &bad), &bad);
	json_ft(e, root, &bad);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}
