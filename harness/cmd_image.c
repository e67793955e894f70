/* cmd_image.c — `microcosm image add|ls|rm`: base disks carrying a researcher's own programs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "assets.h"
#include "commands.h"
#include "image.h"
#include "resolve.h"

const char mc_image_usage[] =
        "usage: microcosm image add [--name NAME] [--from IMAGE] [--force] FILE...\n"
        "       microcosm image ls\n"
        "       microcosm image rm NAME...\n"
        "add writes FILEs and the shared libraries they need (their ldd closure) into a new\n"
        "base disk NAME, a copy of IMAGE (default: the built base disk), with libguestfs.\n"
        "In the guests (`up --image NAME`, or `image: NAME` in an experiment's cluster):\n"
        "  executables      /data/opt/microcosm/bin    (on PATH)\n"
        "  *.so, *.so.N     /data/opt/microcosm/lib    (on the library path)\n"
        "  other files      /data/opt/microcosm/share\n"
        "Libraries are looked up as the host's loader does: set LD_LIBRARY_PATH for your own.\n"
        "  -n, --name NAME   image name (default: the first FILE's name)\n"
        "      --from IMAGE  start from this image (a name or a qcow2 path)\n"
        "  -f, --force       replace an image of that name\n"
        "  -q, --quiet       no progress\n"
        "Images live in $MC_CACHE_DIR/images (default /var/cache/microcosm/images).\n";

static int image_add(int argc, char **argv)
{
	static const struct option lo[] = {
	        {"name", required_argument, NULL, 'n'}, {"from", required_argument, NULL, 'F'},
	        {"force", no_argument, NULL, 'f'},      {"quiet", no_argument, NULL, 'q'},
	        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *cache = mc_assets_cache_dir(), *from_arg = NULL;
	struct mc_image_add req = {0};
	char name[MC_IMAGE_NAME_MAX + 1] = "", from[4096], err[1024], accel[8], why[256],
	                              qemu[4096];
	struct mc_assets a;
	int opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:fqh", lo, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (!mc_image_name_ok(optarg)) {
				fprintf(stderr,
				        "microcosm image add: --name '%s': want [A-Za-z0-9._-], at "
				        "most %d characters, not starting with '.'\n",
				        optarg, MC_IMAGE_NAME_MAX);
				return 2;
			}
			snprintf(name, sizeof(name), "%s", optarg);
			break;
		case 'F':
			from_arg = optarg;
			break;
		case 'f':
			req.force = 1;
			break;
		case 'q':
			req.quiet = 1;
			break;
		case 'h':
			fputs(mc_image_usage, stdout);
			return 0;
		case ':':
			fprintf(stderr, "microcosm image add: %s needs a value\n",
			        argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "microcosm image add: unknown option '%s' (see --help)\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "microcosm image add: no FILE given (see --help)\n");
		return 2;
	}
	if (!name[0]) {
		const char *b =
		        strrchr(argv[optind], '/') ? strrchr(argv[optind], '/') + 1 : argv[optind];

		if (!mc_image_name_ok(b)) {
			fprintf(stderr,
			        "microcosm image add: '%s' is not usable as a name: give --name\n",
			        b);
			return 2;
		}
		snprintf(name, sizeof(name), "%s", b);
	}
	if (geteuid() != 0) {
		fprintf(stderr, "microcosm image add: must run as root\n");
		return 1;
	}
	if (mc_assets_load(cache, &a, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm image add: %s\n", err);
		return 1;
	}
	if (from_arg) {
		if (mc_image_resolve(cache, from_arg, from, sizeof(from), err, sizeof(err)) < 0) {
			fprintf(stderr, "microcosm image add: --from: %s\n", err);
			return 2;
		}
	} else {
		snprintf(from, sizeof(from), "%s", a.base_image);
	}
	/* libguestfs boots its own appliance: under TCG where KVM cannot run one. */
	if (mc_find_in_path("qemu-system-x86_64", qemu, sizeof(qemu)) < 0) {
		fprintf(stderr, "microcosm image add: qemu-system-x86_64 is not in PATH\n");
		return 1;
	}
	if (mc_accel_choose("auto", qemu, &a, cache, accel, why, sizeof(why)) < 0) {
		fprintf(stderr, "microcosm image add: no usable accelerator: %s\n", why);
		return 1;
	}
	req.name = name;
	req.from = from;
	req.files = argv + optind;
	req.force_tcg = strcmp(accel, "kvm") != 0;
	if (mc_image_add(cache, &req, err, sizeof(err)) < 0) {
		fprintf(stderr, "microcosm image add: %s\n", err);
		return 1;
	}
	printf("image %s: %s/images/%s/base.qcow2 (use: microcosm up --image %s)\n", name, cache,
	       name, name);
	return 0;
}

int cmd_image(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(mc_image_usage, sub ? stdout : stderr);
		return sub ? 0 : 2;
	}
	if (strcmp(sub, "add") == 0)
		return image_add(argc - 1, argv + 1);
	if (strcmp(sub, "ls") == 0) {
		if (argc > 2) {
			if (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) {
				fputs(mc_image_usage, stdout);
				return 0;
			}
			fprintf(stderr, "microcosm image ls: unexpected argument '%s'\n", argv[2]);
			return 2;
		}
		mc_image_list(mc_assets_cache_dir());
		return 0;
	}
	if (strcmp(sub, "rm") == 0) {
		int rc = 0;

		if (argc < 3) {
			fprintf(stderr, "microcosm image rm: no NAME given\n");
			return 2;
		}
		for (int i = 2; i < argc; i++) {
			int r = mc_image_remove(mc_assets_cache_dir(), argv[i]);

			if (r == -EINVAL || r == -ENOENT) {
				fprintf(stderr, "microcosm image rm: %s: no such image\n", argv[i]);
				rc = rc ? rc : 2;
			} else if (r < 0) {
				fprintf(stderr, "microcosm image rm: %s: %s\n", argv[i],
				        strerror(-r));
				rc = 1;
			} else {
				printf("image %s: removed\n", argv[i]);
			}
		}
		return rc;
	}
	fprintf(stderr, "microcosm image: unknown subcommand '%s' (add, ls, rm)\n", sub);
	return 2;
}
