/* cmd_exec.c — `microcosm exec`: run a command on a set of guests, stream or tabulate the results.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "commands.h"
#include "util.h"

#define KEEP_OUTPUT 4096 /* bytes of output kept per guest for --table */

struct gres {
	char name[32];
	char state[16];
	long long boot_ms;
	int status, sig, timed_out, done;
	char *error;
	char out[KEEP_OUTPUT]; /* stdout then stderr, truncated */
	size_t out_len;
	char line[2][1024]; /* partial line per stream, for prefixed streaming */
	size_t line_len[2];
};

static struct gres *find(struct gres *r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].name, name) == 0)
			return &r[i];
	return NULL;
}

static void flush_line(struct gres *g, int s, int force)
{
	FILE *fp = s ? stderr : stdout;

	if (g->line_len[s] == 0 || (!force && g->line[s][g->line_len[s] - 1] != '\n'))
		return;
	fprintf(fp, "%s: %.*s%s", g->name, (int)g->line_len[s], g->line[s],
	        g->line[s][g->line_len[s] - 1] == '\n' ? "" : "\n");
	g->line_len[s] = 0;
	fflush(fp); /* whoever reads a pipe or a file sees each line as it comes */
}

static void stream_out(struct gres *g, int s, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (g->line_len[s] == sizeof(g->line[s]))
			flush_line(g, s, 1);
		g->line[s][g->line_len[s]++] = data[i];
		if (data[i] == '\n')
			flush_line(g, s, 0);
	}
}

/* First non-empty line of the kept output, for the table. */
static void first_line(const struct gres *g, char *buf, size_t cap)
{
	size_t i = 0, k = 0;

	while (i < g->out_len && (g->out[i] == '\n' || g->out[i] == '\r'))
		i++;
	for (; i < g->out_len && g->out[i] != '\n' && k + 1 < cap; i++)
		buf[k++] = (g->out[i] >= 32 && g->out[i] < 127) ? g->out[i] : '?';
	buf[k] = '\0';
}

/* The signal that asked this CLI to stop (Ctrl-C, a launcher's SIGTERM). */
static volatile sig_atomic_t pending_signal;

static void on_signal(int sig)
{
	pending_signal = sig;
}

#define FORWARD_GRACE_MS 5000 /* forwarded signal -> SIGKILL -> give up */

/*
 * Runs o's command and reports as exec does, or, with raw (rsh), passes the
 * single guest's output through unchanged and returns its exit status the
 * way ssh does (255 when it could not run). SIGINT, SIGTERM and SIGHUP are
 * forwarded to the guests' commands; if they have not ended FORWARD_GRACE_MS
 * later they are SIGKILLed, and after as long again the CLI gives up.
 */
int mc_exec_session(const struct mc_exec_opts *o, int raw)
{
	const char *verb = raw ? "rsh" : "exec";
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	struct mc_client *cl;
	struct gres *res = NULL;
	size_t nres = 0;
	char err[512];
	json_t *req, *a;
	int r, failures = 0, finished = 0, forwarded = 0, raw_status = 255;
	json_int_t job = 0;
	int64_t escalate_ms = 0;

	cl = mc_client_connect(&o->c, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "microcosm %s: %s\n", verb, err);
		return raw ? 255 : 1;
	}
	a = json_array();
	for (int i = 0; i < o->argc; i++)
		json_array_append_new(a, json_string(o->argv[i]));
	req = json_pack("{s:s, s:s, s:o, s:[], s:s, s:I}", "op", "exec", "target", o->target,
	                "argv", a, "env", "cwd", o->cwd, "timeout_ms", (json_int_t)o->timeout_ms);
	for (int i = 0; i < o->envc; i++)
		json_array_append_new(json_object_get(req, "env"), json_string(o->env[i]));
	if (!json_object_get(req, "argv") || json_array_size(a) != (size_t)o->argc) {
		fprintf(stderr, "microcosm %s: arguments must be valid UTF-8\n", verb);
		json_decref(req);
		mc_client_destroy(&cl);
		return raw ? 255 : 2;
	}
	if (mc_client_send(cl, req) < 0) {
		mc_client_destroy(&cl);
		return raw ? 255 : 1;
	}
	pending_signal = 0;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	while (!finished) {
		json_t *m = NULL;
		char *data = NULL;
		size_t len = 0;
		const char *type, *gname;
		struct gres *g;

		if (pending_signal && job && (!forwarded || mc_now_ms() >= escalate_ms)) {
			int sig = forwarded ? SIGKILL : pending_signal;

			if (forwarded > 1) {
				fprintf(stderr,
				        "microcosm %s: commands did not end after signal %d\n",
				        verb, (int)pending_signal);
				failures++;
				raw_status = 128 + pending_signal;
				break;
			}
			mc_client_send(cl, json_pack("{s:s, s:I, s:i}", "op", "signal", "job", job,
			                             "signal", sig));
			forwarded++;
			escalate_ms = mc_now_ms() + FORWARD_GRACE_MS;
		}
		/* No overall limit: commands may run long; the per-command --timeout
		 * bounds them and a dead controller is noticed. Short waits so a
		 * signal is forwarded promptly. */
		r = mc_client_recv(cl, 200, &m, &data, &len);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			fprintf(stderr, "microcosm %s: lost the controller (pid %d)\n", verb,
			        mc_client_pid(cl));
			failures++;
			break;
		}
		type = json_string_value(json_object_get(m, "type"));
		gname = json_string_value(json_object_get(m, "guest"));
		g = gname ? find(res, nres, gname) : NULL;
		if (o->json && type && strcmp(type, "output") == 0) {
			json_object_set_new(m, "data", json_stringn_nocheck(data ? data : "", len));
		}
		if (o->json) {
			json_dumpf(m, stdout, JSON_COMPACT);
			putchar('\n');
		}
		if (!type) {
			/* ignore */
		} else if (strcmp(type, "error") == 0) {
			fprintf(stderr, "microcosm %s: %s\n", verb,
			        json_string_value(json_object_get(m, "error")));
			failures++;
			finished = 1;
		} else if (strcmp(type, "start") == 0) {
			json_t *names = json_object_get(m, "guests"), *v;
			size_t i;

			job = json_integer_value(json_object_get(m, "job"));
			nres = json_array_size(names);
			res = calloc(nres ? nres : 1, sizeof(*res));
			if (!res) {
				json_decref(m);
				free(data);
				break;
			}
			json_array_foreach(names, i, v)
			{
				snprintf(res[i].name, sizeof(res[i].name), "%s",
				         json_string_value(v));
				res[i].boot_ms = -1;
			}
		} else if (strcmp(type, "output") == 0 && g && data) {
			int s = json_integer_value(json_object_get(m, "stream")) == 2;

			if (raw) {
				fwrite(data, 1, len, s ? stderr : stdout);
				fflush(s ? stderr : stdout);
			} else if (!o->table && !o->json)
				stream_out(g, s, data, len);
			if (g->out_len < KEEP_OUTPUT) {
				size_t k = len < KEEP_OUTPUT - g->out_len
				                   ? len
				                   : KEEP_OUTPUT - g->out_len;

				memcpy(g->out + g->out_len, data, k);
				g->out_len += k;
			}
		} else if (strcmp(type, "exit") == 0 && g) {
			const char *e = json_string_value(json_object_get(m, "error"));

			g->done = 1;
			snprintf(g->state, sizeof(g->state), "%s",
			         json_string_value(json_object_get(m, "state")));
			g->boot_ms = json_integer_value(json_object_get(m, "boot_ms"));
			g->status = (int)json_integer_value(json_object_get(m, "status"));
			g->sig = (int)json_integer_value(json_object_get(m, "signal"));
			g->timed_out = json_is_true(json_object_get(m, "timed_out"));
			if (e)
				g->error = strdup(e);
			if (raw)
				raw_status = e ? 255 : g->sig ? 128 + g->sig : g->status;
			if (raw && e)
				fprintf(stderr, "microcosm rsh: guest %s: %s\n", g->name, e);
			if (!o->table && !o->json && !raw) {
				flush_line(g, 0, 1);
				flush_line(g, 1, 1);
			}
			if (e || g->status != 0 || g->sig != 0)
				failures++;
		} else if (strcmp(type, "done") == 0) {
			finished = 1;
		}
		json_decref(m);
		free(data);
	}
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (raw) {
		for (size_t i = 0; i < nres; i++)
			free(res[i].error);
		free(res);
		mc_client_destroy(&cl);
		return raw_status;
	}
	if (o->table) {
		printf("%-8s %-8s %8s %-12s %s\n", "GUEST", "STATE", "BOOT_MS", "EXIT", "OUTPUT");
		for (size_t i = 0; i < nres; i++) {
			struct gres *g = &res[i];
			char ex[32], line[256], bs[24] = "-";

			if (g->error)
				snprintf(ex, sizeof(ex), "error");
			else if (g->timed_out)
				snprintf(ex, sizeof(ex), "timeout");
			else if (g->sig)
				snprintf(ex, sizeof(ex), "signal %d", g->sig);
			else
				snprintf(ex, sizeof(ex), "%d", g->status);
			if (g->boot_ms >= 0)
				snprintf(bs, sizeof(bs), "%lld", g->boot_ms);
			first_line(g, line, sizeof(line));
			printf("%-8s %-8s %8s %-12s %s\n", g->name, g->state[0] ? g->state : "?",
			       bs, ex, g->error ? g->error : line);
		}
	} else if (!o->json) {
		for (size_t i = 0; i < nres; i++) {
			struct gres *g = &res[i];

			if (g->error)
				fprintf(stderr, "%s: %s\n", g->name, g->error);
			else if (g->timed_out)
				fprintf(stderr, "%s: killed after the %llu ms timeout\n", g->name,
				        (unsigned long long)o->timeout_ms);
			else if (g->sig)
				fprintf(stderr, "%s: killed by signal %d\n", g->name, g->sig);
			else if (g->status)
				fprintf(stderr, "%s: exit status %d\n", g->name, g->status);
		}
	}
	if (failures && !o->json)
		fprintf(stderr, "exec: %d of %zu guests did not succeed%s\n", failures, nres,
		        pending_signal ? " (interrupted)" : "");
	for (size_t i = 0; i < nres; i++)
		free(res[i].error);
	free(res);
	mc_client_destroy(&cl);
	return failures ? 1 : 0;
}

int cmd_exec(int argc, char **argv)
{
	struct mc_exec_opts o;
	int r = mc_cli_parse_exec(argc, argv, &o);

	if (r)
		return r > 0 ? 0 : 2;
	return mc_exec_session(&o, 0);
}
