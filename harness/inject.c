/* inject.c — one fault on a running cluster: through the controller (host kinds) or the guests'
 * agents (guest kinds: mc-fault, mc-netem), with one record per guest. */
#include "inject.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

#define EXEC_TIMEOUT_MS 60000 /* a guest tool returns at once (holders detach) */
#define NETWORK_FILE    "network.args"

int mc_inject_check(const struct mc_inject_req *req, char *err, size_t errlen)
{
	const struct mc_fault_kind *k = req->kind;
	char why[160];

	for (int i = 0; i < req->nparams; i++) {
		const struct mc_fault_param *p = mc_fault_param_find(k, req->keys[i]);

		if (!p) {
			char keys[256] = "";

			for (int q = 0; q < MC_FAULT_MAX_PARAMS && k->params[q].key; q++)
				snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s",
				         q ? ", " : "", k->params[q].key);
			snprintf(err, errlen, "%s: unknown parameter '%s' (%s%s)", k->name,
			         req->keys[i], keys[0] ? "expected " : "it takes none", keys);
			return -EINVAL;
		}
		if (mc_fault_param_check(p, req->vals[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s: %s '%s': expected %s", k->name, p->key,
			         req->vals[i], why);
			return -EINVAL;
		}
	}
	for (int q = 0; q < MC_FAULT_MAX_PARAMS && k->params[q].key; q++) {
		int given = 0;

		for (int i = 0; i < req->nparams; i++)
			given |= strcmp(req->keys[i], k->params[q].key) == 0;
		if (k->params[q].required && !given) {
			snprintf(err, errlen, "%s: parameter %s is required (%s)", k->name,
			         k->params[q].key, k->params[q].help);
			return -EINVAL;
		}
	}
	if (req->duration_ms && !k->duration) {
		snprintf(err, errlen, "%s: takes no duration", k->name);
		return -EINVAL;
	}
	return 0;
}

static const char *param(const struct mc_inject_req *req, const char *key)
{
	for (int i = 0; i < req->nparams; i++)
		if (strcmp(req->keys[i], key) == 0)
			return req->vals[i];
	return NULL;
}

static json_t *params_json(const struct mc_inject_req *req)
{
	json_t *o = json_object();

	for (int i = 0; i < req->nparams; i++)
		json_object_set_new(o, req->keys[i], json_string(req->vals[i]));
	return o;
}

static json_t *record(const struct mc_inject_req *req, const char *guest)
{
	return json_pack("{s:s, s:s, s:o, s:I}", "guest", guest, "kind", req->kind->name, "params",
	                 params_json(req), "duration_ms", (json_int_t)req->duration_ms);
}

/* ---- network settings kept for bursts ---- */

int mc_cluster_save_network(const struct mc_common_opts *c, char *const *kv, int n)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], buf[8192];
	size_t len = 0;

	mc_cluster_dir(c, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, NETWORK_FILE);
	if (n == 0)
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + len, sizeof(buf) - len, "%s\n", kv[i]);

		if (w < 0 || (size_t)w >= sizeof(buf) - len)
			return -ENOSPC;
		len += (size_t)w;
	}
	return mc_write_file_atomic(path, buf, len, 0644);
}

/* Appends the saved KEY=VALUE settings to sh (space separated). */
static void saved_network(const struct mc_common_opts *c, char *sh, size_t cap)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], *text = NULL;
	size_t len = 0;

	mc_cluster_dir(c, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, NETWORK_FILE);
	if (mc_read_file(path, 8192, &text, &len) < 0)
		return;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		if (!strchr(l, '\''))
			snprintf(sh + strlen(sh), cap - strlen(sh), " %s", l);
	free(text);
}

/* ---- guest kinds: the command each guest runs ---- */

static int guest_argv(const struct mc_common_opts *c, const struct mc_inject_req *req,
                      unsigned nguests, char **argv, char *sh, size_t cap)
{
	const char *k = req->kind->name;
	char d[32] = "";
	int n = 0;

	if (req->duration_ms)
		snprintf(d, sizeof(d), "%llums", (unsigned long long)req->duration_ms);
	if (!strcmp(k, "netem") || !strcmp(k, "bandwidth")) {
		char base[4096] = "", burst[512] = "";

		saved_network(c, base, sizeof(base));
		for (int i = 0; i < req->nparams; i++)
			snprintf(burst + strlen(burst), sizeof(burst) - strlen(burst), " %s=%s",
			         req->keys[i], req->vals[i]);
		snprintf(sh, cap, "mc-netem --guests %u%s%s || exit $?; ", nguests, base, burst);
		if (req->duration_ms) {
			char restore[4200];

			if (base[0])
				snprintf(restore, sizeof(restore), "mc-netem --guests %u%s",
				         nguests, base);
			else
				snprintf(restore, sizeof(restore), "mc-netem --clear");
			snprintf(sh + strlen(sh), cap - strlen(sh),
			         "setsid sh -c 'sleep %.3f; exec %s' </dev/null >/dev/null 2>&1 & ",
			         (double)req->duration_ms / 1000.0, restore);
		}
		snprintf(sh + strlen(sh), cap - strlen(sh),
		         "echo '{\"kind\":\"%s\",\"restore_in_ms\":%llu}'", k,
		         (unsigned long long)req->duration_ms);
		argv[n++] = "sh";
		argv[n++] = "-c";
		argv[n++] = sh;
		argv[n] = NULL;
		return n;
	}
	argv[n++] = "mc-fault";
	argv[n++] = (char *)k;
	if (!strcmp(k, "kill")) {
		argv[n++] = "--process";
		argv[n++] = (char *)param(req, "process");
		if (param(req, "signal")) {
			argv[n++] = "--signal";
			argv[n++] = (char *)param(req, "signal");
		}
	} else if (!strcmp(k, "clock-jump")) {
		argv[n++] = "--offset";
		argv[n++] = (char *)param(req, "offset");
	} else if (!strcmp(k, "clock-drift")) {
		argv[n++] = "--ppm";
		argv[n++] = (char *)param(req, "ppm");
	} else if (!strcmp(k, "bitflip")) {
		argv[n++] = "--process";
		argv[n++] = (char *)param(req, "process");
		if (param(req, "region")) {
			argv[n++] = "--region";
			argv[n++] = (char *)param(req, "region");
		}
		if (req->seed) {
			snprintf(sh, cap, "%llu", (unsigned long long)req->seed);
			argv[n++] = "--seed";
			argv[n++] = sh;
		}
	} else if (!strcmp(k, "fill-memory")) {
		argv[n++] = "--size";
		argv[n++] = (char *)param(req, "size");
	} else if (strcmp(k, "disk-full")) {
		return -ENOTSUP;
	}
	if (req->duration_ms) {
		static char dbuf[32];

		snprintf(dbuf, sizeof(dbuf), "%s", d);
		argv[n++] = "--for";
		argv[n++] = dbuf;
	}
	argv[n] = NULL;
	return n;
}

/* ---- talking to the controller ---- */

/* The last line of text that is a JSON object (tools print one; mc-netem talks first). */
static json_t *last_json_line(const char *text)
{
	const char *p = text + strlen(text);

	while (p > text) {
		const char *end = p, *start;

		while (end > text && end[-1] == '\n')
			end--;
		start = end;
		while (start > text && start[-1] != '\n')
			start--;
		if (start < end && *start == '{') {
			json_t *j = json_loadb(start, (size_t)(end - start), 0, NULL);

			if (j)
				return j;
		}
		p = start;
	}
	return NULL;
}

static json_t *find_record(json_t *records, const char *guest)
{
	size_t i;
	json_t *rec;

	json_array_foreach(records, i, rec)
	{
		if (!strcmp(json_string_value(json_object_get(rec, "guest")), guest))
			return rec;
	}
	return NULL;
}

/* Reads replies until "done": host results, or guest exec output and exits. */
static int collect(struct mc_client *cl, const struct mc_inject_req *req, json_t *records,
                   char *err, size_t errlen)
{
	for (;;) {
		json_t *m = NULL, *rec;
		char *data = NULL;
		size_t len = 0;
		const char *type, *guest;
		size_t i;
		int r = mc_client_recv(cl, EXEC_TIMEOUT_MS + 10000, &m, &data, &len);

		if (r < 0) {
			snprintf(err, errlen, "the controller did not answer (%s)", strerror(-r));
			return r;
		}
		type = json_string_value(json_object_get(m, "type"));
		guest = json_string_value(json_object_get(m, "guest"));
		rec = guest ? find_record(records, guest) : NULL;
		if (!type) {
		} else if (!strcmp(type, "error")) {
			snprintf(err, errlen, "%s", json_string_value(json_object_get(m, "error")));
			json_decref(m);
			free(data);
			return -EINVAL;
		} else if (!strcmp(type, "done")) {
			json_decref(m);
			free(data);
			return 0;
		} else if (!strcmp(type, "start")) {
			json_t *v;

			json_array_foreach(json_object_get(m, "guests"), i, v)
			{
				json_t *r2 = record(req, json_string_value(v));

				json_object_set_new(r2, "at_ms", json_integer(mc_wall_ms()));
				json_array_append_new(records, r2);
			}
		} else if (!strcmp(type, "result") && guest) {
			/* a host kind: the controller's own answer */
			const char *e = json_string_value(json_object_get(m, "error"));

			rec = record(req, guest);
			json_object_set(rec, "outcome", json_object_get(m, "outcome"));
			json_object_set(rec, "at_ms", json_object_get(m, "at_ms"));
			if (e)
				json_object_set_new(rec, "error", json_string(e));
			if (json_object_get(m, "detail"))
				json_object_set(rec, "detail", json_object_get(m, "detail"));
			json_array_append_new(records, rec);
		} else if (!strcmp(type, "output") && rec && data) {
			const char *key = json_integer_value(json_object_get(m, "stream")) == 2
			                          ? "stderr"
			                          : "stdout";
			const char *old = json_string_value(json_object_get(rec, key));
			char *joined = NULL;

			if (asprintf(&joined, "%s%.*s", old ? old : "", (int)len, data) >= 0 &&
			    strlen(joined) < 4096)
				json_object_set_new(rec, key, json_string(joined));
			free(joined);
		} else if (!strcmp(type, "exit") && rec) {
			const char *e = json_string_value(json_object_get(m, "error"));
			int status = (int)json_integer_value(json_object_get(m, "status"));
			int sig = (int)json_integer_value(json_object_get(m, "signal"));
			const char *out = json_string_value(json_object_get(rec, "stdout"));
			const char *errtext = json_string_value(json_object_get(rec, "stderr"));
			json_t *detail = out ? last_json_line(out) : NULL;
			char why[512];

			json_object_set_new(
			        rec, "outcome",
			        json_string(e || status || sig ? "failed" : "injected"));
			if (e || status || sig) {
				if (e)
					snprintf(why, sizeof(why), "%s", e);
				else if (errtext && *errtext)
					snprintf(why, sizeof(why), "%.*s",
					         (int)strcspn(errtext, "\n"), errtext);
				else
					snprintf(why, sizeof(why), "%s %d",
					         sig ? "signal" : "exit status",
					         sig ? sig : status);
				json_object_set_new(rec, "error", json_string(why));
			}
			if (detail)
				json_object_set_new(rec, "detail", detail);
			json_object_del(rec, "stdout");
			json_object_del(rec, "stderr");
		}
		json_decref(m);
		free(data);
	}
}

int mc_inject(const struct mc_common_opts *c, const struct mc_inject_req *req, json_t **records,
              char *err, size_t errlen)
{
	struct mc_client *cl;
	json_t *reply = NULL, *out = json_array(), *msg;
	char sh[8192], *argv[16];
	unsigned nguests;
	int r;

	if ((r = mc_inject_check(req, err, errlen)) < 0)
		return r;
	if (!(cl = mc_client_connect(c, err, errlen)))
		return -ESRCH;
	if (req->kind->where == MC_FAULT_HOST) {
		msg = json_pack("{s:s, s:s, s:s, s:o, s:I}", "op", "fault", "kind", req->kind->name,
		                "target", req->target, "params", params_json(req), "duration_ms",
		                (json_int_t)req->duration_ms);
		if (req->name)
			json_object_set_new(msg, "name", json_string(req->name));
	} else {
		json_t *a = json_array();

		if (mc_client_call(cl, json_pack("{s:s}", "op", "ls"), 30000, &reply) < 0 ||
		    !reply) {
			snprintf(err, errlen, "the controller did not answer");
			mc_client_destroy(&cl);
			json_decref(out);
			return -EIO;
		}
		nguests = (unsigned)json_array_size(json_object_get(reply, "guests"));
		json_decref(reply);
		if ((r = guest_argv(c, req, nguests, argv, sh, sizeof(sh))) < 0) {
			snprintf(err, errlen, "%s: not a guest kind", req->kind->name);
			mc_client_destroy(&cl);
			json_decref(out);
			return r;
		}
		for (int i = 0; argv[i]; i++)
			json_array_append_new(a, json_string(argv[i]));
		msg = json_pack("{s:s, s:s, s:o, s:[], s:s, s:I}", "op", "exec", "target",
		                req->target, "argv", a, "env", "cwd", "/", "timeout_ms",
		                (json_int_t)EXEC_TIMEOUT_MS);
	}
	if (mc_client_send(cl, msg) < 0) {
		snprintf(err, errlen, "cannot reach the controller");
		mc_client_destroy(&cl);
		json_decref(out);
		return -EIO;
	}
	r = collect(cl, req, out, err, errlen);
	mc_client_destroy(&cl);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*records = out;
	return 0;
}
