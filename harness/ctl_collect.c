/* ctl_collect.c — the controller's "collect" request: files the workloads left on its guests'
 * disks, read by a child process (libguestfs, mc_collect_files) into the state directory and
 * sent to the client one file a message. A cluster across hosts gathers them this way from
 * every host into one run directory (docs/hosts.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "collect.h"
#include "ctl_internal.h"
#include "log.h"
#include "util.h"

#define MAX_PATTERNS 64

/* Sends every regular file under root/rel as {"type":"result","guest":g,"path":rel}. */
static void send_tree(struct ctl *c, struct job *j, const char *guest, const char *root,
                      const char *rel)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d))) {
		char sub[PATH_MAX], full[PATH_MAX * 2];
		struct stat st;
		char *data;
		size_t len;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		snprintf(full, sizeof(full), "%s/%s", root, sub);
		if (lstat(full, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			send_tree(c, j, guest, root, sub);
		} else if (S_ISREG(st.st_mode) &&
		           mc_read_file(full, MC_COLLECT_MAX_BYTES, &data, &len) == 0) {
			ctl_job_send(c, j,
			             json_pack("{s:s, s:s, s:s, s:I}", "type", "result", "guest",
			                       guest, "path", sub, "bytes", (json_int_t)len),
			             data ? data : "", len);
			free(data);
		}
	}
	closedir(d);
}

int ctl_collect_reaped(struct ctl *c, pid_t pid, int status)
{
	struct job *j = c->collect.job;
	char path[PATH_MAX + 64];
	json_t *report;

	if (!c->collect.pid || pid != c->collect.pid)
		return 0;
	c->collect.pid = 0;
	c->collect.job = NULL;
	snprintf(path, sizeof(path), "%s/report.json", c->collect.dir);
	report = json_load_file(path, 0, NULL);
	if (!report || !WIFEXITED(status)) {
		ctl_job_send(c, j,
		             json_pack("{s:s, s:s}", "type", "result", "error",
		                       report ? "the collection was killed"
		                              : "the collection could not start (collect.log)"),
		             NULL, 0);
	} else {
		const char *g;
		json_t *v;

		json_object_foreach(json_object_get(report, "guests"), g, v)
		{
			char root[PATH_MAX + 64];

			snprintf(root, sizeof(root), "%s/%s/files", c->collect.dir, g);
			send_tree(c, j, g, root, "");
		}
		ctl_job_send(c, j, json_pack("{s:s, s:O}", "type", "result", "report", report),
		             NULL, 0);
	}
	json_decref(report);
	mc_rm_rf(c->collect.dir);
	ctl_job_part_done(c, j);
	return 1;
}

/*
 * {"op":"collect","target":T,"patterns":[...],"accel":A}: the files matching the patterns on
 * the disks of T's guests, as results {"guest","path","bytes"} with the file in the data
 * frame, then one {"report": {...}} (mc_collect_files' report). The disks are read by a
 * child process, so the controller goes on serving meanwhile.
 */
void ctl_req_collect(struct ctl *c, json_t *req, const unsigned char *client, size_t len)
{
	const char *target = json_string_value(json_object_get(req, "target"));
	const char *accel = json_string_value(json_object_get(req, "accel"));
	json_t *pats = json_object_get(req, "patterns"), *v;
	const char *patterns[MAX_PATTERNS];
	struct mc_collect_guest *gs;
	char(*disks)[PATH_MAX + 32];
	struct mc_target t;
	struct job *j;
	size_t i, n = 0, np = 0;
	pid_t pid;

	if (!target || mc_target_parse(target, &t) || !json_is_array(pats) ||
	    json_array_size(pats) == 0 || json_array_size(pats) > MAX_PATTERNS) {
		ctl_reply_error(c, client, len, "collect: malformed request");
		return;
	}
	json_array_foreach(pats, i, v)
	{
		if (!json_is_string(v)) {
			ctl_reply_error(c, client, len, "collect: patterns must be strings");
			return;
		}
		patterns[np++] = json_string_value(v);
	}
	if (c->collect.pid) {
		ctl_reply_error(c, client, len, "collect: a collection is under way");
		return;
	}
	gs = calloc(c->n + 1, sizeof(*gs));
	disks = calloc(c->n + 1, sizeof(*disks));
	if (!gs || !disks || !(j = ctl_job_new(c, "collect", client, len))) {
		free(gs);
		free(disks);
		ctl_reply_error(c, client, len, "collect: out of memory");
		return;
	}
	for (unsigned k = 0; k < c->n; k++) {
		struct guest *g = &c->g[k];
		struct ctl_guest_paths p;

		if (!ctl_here(g) || !mc_target_match(&t, g->name, g->gindex))
			continue;
		ctl_guest_paths(g, &p);
		if (access(p.disk, R_OK) < 0)
			continue; /* never started */
		snprintf(disks[n], sizeof(disks[n]), "%s", p.disk);
		gs[n].name = g->name;
		gs[n].disk = disks[n];
		n++;
	}
	snprintf(c->collect.dir, sizeof(c->collect.dir), "%s/collect-%u", c->cfg->dir, j->id);
	mc_rm_rf(c->collect.dir);
	mc_mkdir_p(c->collect.dir, 0700);
	pid = fork();
	if (pid == 0) {
		char err[512], path[PATH_MAX + 64];
		json_t *report = NULL;
		int fd;

		sigset_t none;

		/* The controller's loop blocks these for its signalfd: a child that never execs
		 * must take them again, and die with the controller. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(path, sizeof(path), "%s/collect.log", c->cfg->dir);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (mc_collect_files(gs, n, patterns, np, c->collect.dir, accel ? accel : "tcg",
		                     &report, err, sizeof(err)) < 0) {
			fprintf(stderr, "collect: %s\n", err);
			_exit(1);
		}
		snprintf(path, sizeof(path), "%s/report.json", c->collect.dir);
		json_dump_file(report, path, JSON_COMPACT);
		_exit(0);
	}
	free(gs);
	free(disks);
	if (pid < 0) {
		ctl_job_send(c, j,
		             json_pack("{s:s, s:s}", "type", "result", "error", strerror(errno)),
		             NULL, 0);
		ctl_job_part_done(c, j);
		return;
	}
	mc_info("controller: collecting from %zu guests' disks (pid %d)", n, (int)pid);
	c->collect.pid = pid;
	c->collect.job = j;
	j->pending++; /* held until the child is reaped */
	ctl_job_part_done(c, j);
}

void ctl_collect_cleanup(struct ctl *c)
{
	int status, gone = 0;

	if (!c->collect.pid)
		return;
	kill(c->collect.pid, SIGTERM);
	for (int i = 0; i < 50 && !gone; i++) {
		gone = waitpid(c->collect.pid, &status, WNOHANG) == c->collect.pid;
		if (!gone)
			usleep(100 * 1000);
	}
	if (!gone) {
		kill(c->collect.pid, SIGKILL);
		waitpid(c->collect.pid, &status, 0);
	}
	c->collect.pid = 0;
	mc_rm_rf(c->collect.dir);
}
