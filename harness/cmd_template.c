/* cmd_template.c — `microcosm template ls|build|rm`: the booted templates clones start from. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "assets.h"
#include "cli.h"
#include "commands.h"
#include "resolve.h"
#include "template.h"

const char mc_template_usage[] =
        "usage: microcosm template ls\n"
        "       microcosm template build [--force] [GUEST OPTIONS]\n"
        "       microcosm template rm KEY|all\n"
        "A template is a guest booted once and saved (RAM file + device state); clones of it\n"
        "start in ≈0.1 s instead of a boot. `up` builds the one it needs on first use and reuses\n"
        "it while the kernel, initramfs, base image, QEMU and guest options are unchanged.\n"
        "GUEST OPTIONS are up's: --memory, --vcpus, --accel, --kernel, --tb-size.\n"
        "Templates live in $MC_CACHE_DIR/templates (default /var/cache/microcosm/templates).\n";

static void print_one(void *arg, const struct mc_template *t)
{
	char when[32] = "?";
	struct tm tm;
	time_t at = (time_t)t->built_at;

	(void)arg;
	if (gmtime_r(&at, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-16s %8llu %10.1f %-20s %s\n", t->key, (unsigned long long)t->mem_mib,
	       (double)t->build_ms / 1000.0, when, t->dir);
}

static int template_ls(void)
{
	printf("%-16s %8s %10s %-20s %s\n", "KEY", "MEM_MIB", "BUILD_S", "BUILT", "DIR");
	mc_template_list(mc_assets_cache_dir(), print_one, NULL);
	return 0;
}

static int template_build(int argc, char **argv)
{
	char *uargv[64], err[1024];
	struct mc_up_opts o;
	struct mc_ctl_config *cfg;
	struct mc_template_spec ts;
	struct mc_template t;
	int uargc = 0, force = 0, r;

	uargv[uargc++] = "template build";
	uargv[uargc++] = "-n";
	uargv[uargc++] = "1";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			force = 1;
			continue;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(mc_template_usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-n") || !strcmp(argv[i], "--spawn") || uargc >= 62) {
			fprintf(stderr, "microcosm template build: %s is not a template option\n",
			        argv[i]);
			return 2;
		}
		uargv[uargc++] = argv[i];
	}
	uargv[uargc] = NULL;
	if (mc_cli_parse_up(uargc, uargv, &o))
		return 2;
	if (geteuid() != 0) {
		fprintf(stderr, "microcosm template build: must run as root\n");
		return 1;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return 1;
	r = mc_up_resolve(&o, cfg, err, sizeof(err));
	if (r == 0) {
		mc_up_template_spec(cfg, &ts);
		if (force) {
			r = mc_template_build(cfg->cache_dir, &ts, &t, 0, err, sizeof(err));
		} else {
			int built;

			r = mc_template_ensure(cfg->cache_dir, &ts, &t, &built, 0, err,
			                       sizeof(err));
			if (r == 0 && !built)
				fprintf(stderr, "template %s: up to date (%s)\n", t.key, t.dir);
		}
	}
	free(cfg);
	if (r < 0) {
		fprintf(stderr, "microcosm template build: %s\n", err);
		return 1;
	}
	printf("%s\n", t.key);
	return 0;
}

struct key_list {
	char keys[1024][17];
	int n;
};

static void collect(void *arg, const struct mc_template *t)
{
	struct key_list *kl = arg;

	if (kl->n < 1024)
		snprintf(kl->keys[kl->n++], 17, "%s", t->key);
}

static int template_rm(int argc, char **argv)
{
	struct key_list *kl;
	int failures = 0;

	if (argc != 2) {
		fprintf(stderr, "microcosm template rm: want one KEY or 'all'\n");
		return 2;
	}
	kl = calloc(1, sizeof(*kl));
	if (!kl)
		return 1;
	if (strcmp(argv[1], "all") == 0)
		mc_template_list(mc_assets_cache_dir(), collect, kl);
	else
		snprintf(kl->keys[kl->n++], 17, "%.16s", argv[1]);
	for (int i = 0; i < kl->n; i++) {
		int r = strlen(argv[1]) > 16 && strcmp(argv[1], "all")
		                ? -EINVAL
		                : mc_template_remove(mc_assets_cache_dir(), kl->keys[i]);

		if (r < 0) {
			fprintf(stderr, "microcosm template rm: %s: %s\n", argv[1],
			        r == -EINVAL ? "not a template key (16 hex digits)" : strerror(-r));
			failures++;
		} else {
			printf("removed %s\n", kl->keys[i]);
		}
	}
	free(kl);
	return failures ? 1 : 0;
}

int cmd_template(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(mc_template_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "ls") == 0)
		return template_ls();
	if (strcmp(argv[1], "build") == 0)
		return template_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "rm") == 0)
		return template_rm(argc - 1, argv + 1);
	fprintf(stderr, "microcosm template: unknown action '%s'\n%s", argv[1], mc_template_usage);
	return 2;
}
