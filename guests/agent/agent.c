/* agent.c — mc-agent: guest init (PID 1) and control agent speaking mc_proto over ZeroMQ. */
#include "mc_proto.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/random.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define AGENT_IDENTITY_PATH    "/sys/firmware/qemu_fw_cfg/by_name/opt/microcosm/identity/raw"
#define AGENT_INIT_SCRIPT      "/etc/microcosm/init.sh"
#define AGENT_INIT_TIMEOUT_MS  120000     /* ms, longest wait for init.sh */
#define AGENT_MAX_CMDS         64         /* concurrent commands; more -> ERROR EBUSY */
#define AGENT_QUEUE_MAX        (1u << 20) /* bytes queued before command output is paused */
#define AGENT_HB_DEFAULT_MS    1000       /* ms, heartbeat period when identity has none */
#define AGENT_HB_MIN_MS        50
#define AGENT_HB_MAX_MS        600000
#define AGENT_KILL_GRACE_MS    1000 /* ms after a timeout kill before pipes are forced shut */
#define AGENT_LINGER_MS        200  /* ms, ZMQ_LINGER on exit */
#define AGENT_HWM              100  /* messages, ZMQ send/receive high-water mark */
#define AGENT_RECONNECT_MS     100  /* ms, ZMQ_RECONNECT_IVL: first retry */
#define AGENT_RECONNECT_MAX_MS 2000 /* ms, ZMQ_RECONNECT_IVL_MAX: backoff cap */
#define AGENT_IDENTITY_MAX     4096 /* bytes, identity file */
#define AGENT_CMDLINE_MAX      8192 /* bytes, /proc/cmdline */
#define AGENT_OBUF_LEN         (MC_PROTO_HDR_LEN + 16 + MC_PROTO_MAX_DATA + MC_PROTO_MAX_STR)
/* The base disk's runtime (MPICH, workloads) is on PATH and the loader path. */
#define AGENT_RUNTIME_DIR   "/data/opt/microcosm"
#define AGENT_SHARE_DIR     "/share"
#define AGENT_WARM_MAX_FILE (8 << 20) /* bytes: larger runtime files are not read ahead */
#define AGENT_DEFAULT_PATH                                                                         \
	AGENT_RUNTIME_DIR "/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:" AGENT_SHARE_DIR     \
	                  "/bin"

/* What the guest learns about itself from fw_cfg, a file or the kernel command line. */
struct identity {
	char name[64];        /* [A-Za-z0-9_.-]{1,63} */
	uint32_t index;       /* guest index */
	bool has_ip;          /* ip and prefix given */
	struct in_addr ip;    /* eth0 address */
	uint32_t prefix;      /* eth0 prefix length, 1..32 */
	bool has_gw;          /* gateway given */
	struct in_addr gw;    /* default gateway */
	char controller[256]; /* ZeroMQ endpoint, tcp://… or ipc://… */
	uint32_t hb_ms;       /* ms, heartbeat period */
	bool probe;           /* print the ready line, then power off */
	bool template;        /* a template being booted: wait for a clone identity */
	bool has_mac;         /* mac given */
	uint8_t mac[6];       /* eth0 MAC (a clone keeps its template's otherwise) */
	uint8_t seed[32];     /* per-guest entropy from the controller */
	size_t seed_len;      /* bytes in seed */
	uint64_t time_ms;     /* host wall clock (ms since the epoch) when written; 0 = none */
	bool trace;           /* print each start-up stage on the console (cost studies) */
	bool share;           /* a read-only host directory is exported with tag "mcshare" */
};

/* One running command; a slot is free when !used. */
struct cmd {
	bool used;
	uint32_t id;          /* exec id from the controller */
	pid_t pid;            /* child pid, also its process-group id (setsid) */
	int fd[2];            /* read ends of stdout, stderr; -1 once at EOF */
	bool reaped;          /* waitpid() collected it */
	int wstatus;          /* waitpid() status once reaped */
	bool timed_out;       /* killed for its timeout */
	uint64_t start_ms;    /* ms, CLOCK_MONOTONIC at fork */
	uint64_t end_ms;      /* ms, CLOCK_MONOTONIC at reap */
	uint64_t deadline_ms; /* ms, CLOCK_MONOTONIC; 0 = none */
};

/* An encoded message waiting for the socket to become writable. */
struct outq_item {
	struct outq_item *next;
	size_t len; /* bytes in data */
	uint8_t data[];
};

/* The whole agent: one per process, passed explicitly. */
struct agent {
	bool pid1;        /* running as init */
	bool setup;       /* do the init work (PID 1 or MC_AGENT_SETUP=1) */
	sigset_t oldmask; /* signal mask at start; restored in children */
	int sigfd;        /* signalfd: SIGCHLD (+ SIGTERM/SIGINT when not PID 1) */
	struct identity id;
	char kernel[65];     /* uname -r */
	uint32_t boot_id;    /* random per agent start */
	void *zctx;          /* ZeroMQ context */
	void *sock;          /* DEALER to the controller */
	bool need_hello;     /* HELLO still to be sent */
	uint64_t hb_seq;     /* last heartbeat sequence number sent */
	uint64_t next_hb_ms; /* ms, CLOCK_MONOTONIC of the next heartbeat */
	struct outq_item *q_head, *q_tail;
	size_t q_bytes; /* bytes in the queue */
	struct cmd cmds[AGENT_MAX_CMDS];
	bool stop;                       /* leave the main loop */
	bool data_ro;                    /* a clone's /data: read-only until the first command */
	bool share_pending;              /* /share not mounted yet (done at the first command) */
	uint8_t obuf[AGENT_OBUF_LEN];    /* encode buffer */
	uint8_t rbuf[MC_PROTO_MAX_DATA]; /* pipe read buffer */
};

/* Everything a forked child needs, prepared before fork() so that the child
 * only makes async-signal-safe calls. */
struct child_args {
	const sigset_t *mask;
	char *const *argv;
	char *const *envp;
	const char *path; /* PATH used to look argv[0] up */
	const char *cwd;
	int devnull;      /* -1 if /dev/null could not be opened */
	int out_w, err_w; /* write ends, become stdout/stderr */
};

/* ---- small helpers ---- */

static uint64_t clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

__attribute__((format(printf, 2, 3))) static void agent_log(const struct agent *a, const char *fmt,
                                                            ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (a != NULL && a->id.name[0] != '\0')
		n = snprintf(line, sizeof(line), "mc-agent %s: ", a->id.name);
	else
		n = snprintf(line, sizeof(line), "mc-agent: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* Logging is best effort: fd 2 is the console as PID 1. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/* Makes sure fds 0..2 are open, so that no later descriptor lands there. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int nfd = open("/dev/null", O_RDWR);
		if (nfd < 0)
			nfd = open("/", O_RDONLY | O_DIRECTORY);
		if (nfd >= 0 && nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}

/* Reads at most max-1 bytes of path into buf and NUL-terminates it.
 * Returns the length, or a negative errno (-EFBIG if the file is larger). */
static ssize_t read_small_file(const char *path, char *buf, size_t max)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf + len, max - 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			int err = errno;
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == max - 1) {
			char c;
			n = read(fd, &c, 1);
			close(fd);
			if (n > 0)
				return -EFBIG;
			buf[len] = '\0';
			return (ssize_t)len;
		}
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Reaps every exited child; records the ones that are commands. */
static void reap_children(struct agent *a)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid <= 0)
			break;
		for (int i = 0; i < AGENT_MAX_CMDS; i++) {
			struct cmd *c = &a->cmds[i];

			if (c->used && !c->reaped && c->pid == pid) {
				c->reaped = true;
				c->wstatus = st;
				c->end_ms = mono_ms();
				break;
			}
		}
	}
}

/* Drains the signalfd; reaps on SIGCHLD; SIGTERM/SIGINT request a clean stop. */
static void handle_signals(struct agent *a)
{
	struct signalfd_siginfo si[8];

	for (;;) {
		ssize_t n = read(a->sigfd, si, sizeof(si));

		if (n <= 0)
			break;
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			if (si[i].ssi_signo == SIGTERM || si[i].ssi_signo == SIGINT) {
				agent_log(a, "signal %u: stopping", si[i].ssi_signo);
				a->stop = true;
			}
		}
	}
	reap_children(a);
}

/* ---- init work (PID 1) ---- */

static void mount_one(const struct agent *a, const char *src, const char *target, const char *type,
                      unsigned long flags, const char *data)
{
	if (mkdir(target, 0755) < 0 && errno != EEXIST)
		agent_log(a, "mkdir %s: %s", target, strerror(errno));
	if (mount(src, target, type, flags, data) < 0 && errno != EBUSY)
		agent_log(a, "mount %s on %s: %s", type, target, strerror(errno));
}

/* Points fds 0..2 at /dev/console so that logs (and init.sh) reach the serial console. */
static void open_console(const struct agent *a)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0) {
		agent_log(a, "open /dev/console: %s", strerror(errno));
		return;
	}
	for (int i = 0; i <= 2; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void setup_filesystems(struct agent *a)
{
	const unsigned long nsx = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	mount_one(a, "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	if (a->pid1)
		open_console(a);
	mount_one(a, "proc", "/proc", "proc", nsx, NULL);
	mount_one(a, "sysfs", "/sys", "sysfs", nsx, NULL);
	mount_one(a, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_one(a, "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	/* MPICH and others keep shared memory in /dev/shm. */
	mount_one(a, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/*
 * Mounts the guest's disk on /data. Runs only once the identity is final: a
 * template must not mount it, since its clones get disks of their own and
 * would inherit a mounted file system that is not theirs.
 */
/* What a workload writes to /data reaches the disk (its overlay on the host) within about
 * two seconds, so the run collects it even from a guest that crashes or hangs right after:
 * ext4 commits its journal every second and dirty pages are written back after one. */
#define DATA_OPTS "commit=1"

static void set_sysctl(struct agent *a, const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		agent_log(a, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void data_writeback(struct agent *a)
{
	set_sysctl(a, "/proc/sys/vm/dirty_expire_centisecs", "100");
	set_sysctl(a, "/proc/sys/vm/dirty_writeback_centisecs", "100");
}

static void mount_data(struct agent *a, bool ro)
{
	if (access("/dev/vda", F_OK) == 0) {
		if (mkdir("/data", 0755) < 0 && errno != EEXIST)
			agent_log(a, "mkdir /data: %s", strerror(errno));
		/* A template mounts read-only: nothing is written, so every clone's
		 * disk (a fresh overlay of the same base) matches what the cloned
		 * kernel believes is on it, and the clone only remounts it rw. */
		if (mount("/dev/vda", "/data", "ext4", ro ? MS_RDONLY : 0, ro ? NULL : DATA_OPTS) <
		            0 &&
		    errno != EBUSY)
			agent_log(a, "mount /dev/vda on /data: %s (continuing without /data)",
			          strerror(errno));
	}
}

/*
 * A template reads the runtime on the base disk (MPICH, the workloads:
 * /data/opt/microcosm/{bin,lib}) into its page cache. Clones start from the
 * template's memory, so they find those pages cached and shared with every
 * other clone instead of each reading them through its own emulated disk when
 * the first MPI job starts. Best effort: a missing directory is skipped.
 */
static void warm_runtime(struct agent *a)
{
	static const char *const dirs[] = {AGENT_RUNTIME_DIR "/lib", AGENT_RUNTIME_DIR "/bin"};
	static char buf[64 * 1024];
	size_t total = 0;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;

		if (!dir)
			continue;
		while ((de = readdir(dir))) {
			int fd = de->d_name[0] == '.'
			                 ? -1
			                 : openat(dirfd(dir), de->d_name, O_RDONLY | O_CLOEXEC);
			struct stat st;
			ssize_t n;

			if (fd < 0)
				continue;
			/* Big files are rarely all needed (ICU data for the tracing daemon):
			 * they would take guest memory in every template. */
			if (fstat(fd, &st) == 0 && st.st_size > AGENT_WARM_MAX_FILE) {
				close(fd);
				continue;
			}
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				total += (size_t)n;
			close(fd);
		}
		closedir(dir);
	}
	agent_log(a, "template: %zu KiB of runtime in the page cache", total >> 10);
}

static int if_up(int s, const char *ifname);

/* A template brings lo and eth0 up without addresses: opening the NIC (rings,
 * queueing discipline) is then done once, not by every clone. */
static void links_up_early(struct agent *a)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	if (if_up(s, "lo") < 0 || if_up(s, "eth0") < 0)
		agent_log(a, "template: early link up: %s", strerror(errno));
	close(s);
}

/*
 * Mounts the host's read-only export (`up --share DIR`) on /share. Done at the
 * first command, never in a template: QEMU cannot migrate a mounted 9p export,
 * and an idle clone does not pay for the mount.
 */
static void mount_share(struct agent *a)
{
	if (mkdir(AGENT_SHARE_DIR, 0755) < 0 && errno != EEXIST)
		agent_log(a, "mkdir " AGENT_SHARE_DIR ": %s", strerror(errno));
	if (mount("mcshare", AGENT_SHARE_DIR, "9p", MS_RDONLY | MS_NOSUID | MS_NODEV,
	          "trans=virtio,version=9p2000.L,msize=524288") < 0 &&
	    errno != EBUSY)
		agent_log(a, "mount the shared directory on " AGENT_SHARE_DIR ": %s",
		          strerror(errno));
}

static void remount_data_rw(struct agent *a)
{
	if (access("/dev/vda", F_OK) == 0 &&
	    mount("/dev/vda", "/data", NULL, MS_REMOUNT, DATA_OPTS) < 0)
		agent_log(a, "remount /data rw: %s", strerror(errno));
	data_writeback(a);
}

/*
 * Runs /etc/microcosm/init.sh with /bin/sh and waits for it (reaping any
 * other child meanwhile). A missing script is not an error; a failing or
 * hanging one is logged and the boot continues.
 */
static void run_init_script(struct agent *a)
{
	uint64_t deadline;
	pid_t pid;

	if (access(AGENT_INIT_SCRIPT, F_OK) != 0)
		return;
	pid = fork();
	if (pid < 0) {
		agent_log(a, "init script %s: fork: %s", AGENT_INIT_SCRIPT, strerror(errno));
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &a->oldmask, NULL);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", AGENT_INIT_SCRIPT, (char *)NULL);
		_exit(127);
	}
	deadline = mono_ms() + AGENT_INIT_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd = {.fd = a->sigfd, .events = POLLIN};
		struct signalfd_siginfo si;
		int st;
		pid_t w;
		uint64_t now;

		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != pid)
				continue;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				agent_log(a, "init script %s: failed (status 0x%x), continuing",
				          AGENT_INIT_SCRIPT, (unsigned)st);
			return;
		}
		now = mono_ms();
		if (now >= deadline) {
			agent_log(a, "init script %s: still running after %d ms: killed",
			          AGENT_INIT_SCRIPT, AGENT_INIT_TIMEOUT_MS);
			kill(pid, SIGKILL);
			return;
		}
		if (poll(&pfd, 1, (int)(deadline - now)) > 0)
			while (read(a->sigfd, &si, sizeof(si)) > 0)
				;
	}
}

/* ---- identity ---- */

enum id_key {
	ID_VERSION = 1u << 0,
	ID_NAME = 1u << 1,
	ID_INDEX = 1u << 2,
	ID_IP = 1u << 3,
	ID_PREFIX = 1u << 4,
	ID_GATEWAY = 1u << 5,
	ID_CONTROLLER = 1u << 6,
	ID_HB = 1u << 7,
	ID_PROBE = 1u << 8,
	ID_TEMPLATE = 1u << 9,
	ID_MAC = 1u << 10,
	ID_SEED = 1u << 11,
	ID_TIME = 1u << 12,
	ID_TRACE = 1u << 13,
	ID_SHARE = 1u << 14,
};

static const struct {
	const char *key;     /* identity file key */
	const char *cmdline; /* kernel command-line key */
	unsigned bit;
} id_keys[] = {
        {"version", NULL, ID_VERSION},
        {"name", "mc.name", ID_NAME},
        {"index", "mc.index", ID_INDEX},
        {"ip", "mc.ip", ID_IP},
        {"prefix", "mc.prefix", ID_PREFIX},
        {"gateway", "mc.gw", ID_GATEWAY},
        {"controller", "mc.ctl", ID_CONTROLLER},
        {"heartbeat_ms", "mc.hb", ID_HB},
        {"probe", "mc.probe", ID_PROBE},
        {"template", NULL, ID_TEMPLATE},
        {"mac", "mc.mac", ID_MAC},
        {"seed", NULL, ID_SEED},
        {"time_ms", NULL, ID_TIME},
        {"trace", NULL, ID_TRACE},
        {"share", NULL, ID_SHARE},
};

/* Parses a decimal number in [min, max]: digits only, no sign, no spaces. */
static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 63)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static bool endpoint_valid(const char *s)
{
	size_t n = strlen(s);

	if (n >= sizeof(((struct identity *)0)->controller))
		return false;
	if (strncmp(s, "tcp://", 6) == 0)
		return n > 6;
	if (strncmp(s, "ipc://", 6) == 0)
		return n > 6;
	return false;
}

/* Applies one key=value to id. Returns 0 or -EINVAL with a reason in err. */
static int identity_set(struct identity *id, unsigned bit, const char *key, const char *val,
                        char *err, size_t errlen)
{
	uint32_t u;

	switch (bit) {
	case ID_VERSION:
		if (strcmp(val, "1") != 0)
			goto bad;
		return 0;
	case ID_NAME:
		if (!name_valid(val))
			goto bad;
		memcpy(id->name, val, strlen(val) + 1);
		return 0;
	case ID_INDEX:
		if (!parse_u32(val, 0, UINT32_MAX, &id->index))
			goto bad;
		return 0;
	case ID_IP:
		if (inet_pton(AF_INET, val, &id->ip) != 1)
			goto bad;
		return 0;
	case ID_PREFIX:
		if (!parse_u32(val, 1, 32, &id->prefix))
			goto bad;
		return 0;
	case ID_GATEWAY:
		if (inet_pton(AF_INET, val, &id->gw) != 1)
			goto bad;
		id->has_gw = true;
		return 0;
	case ID_CONTROLLER:
		if (!endpoint_valid(val))
			goto bad;
		memcpy(id->controller, val, strlen(val) + 1);
		return 0;
	case ID_HB:
		if (!parse_u32(val, AGENT_HB_MIN_MS, AGENT_HB_MAX_MS, &id->hb_ms))
			goto bad;
		return 0;
	case ID_PROBE:
		if (!parse_u32(val, 0, 1, &u))
			goto bad;
		id->probe = u == 1;
		return 0;
	case ID_TRACE:
		if (!parse_u32(val, 0, 1, &u))
			goto bad;
		id->trace = u == 1;
		return 0;
	case ID_SHARE:
		if (!parse_u32(val, 0, 1, &u))
			goto bad;
		id->share = u == 1;
		return 0;
	case ID_TEMPLATE:
		if (!parse_u32(val, 0, 1, &u))
			goto bad;
		id->template = u == 1;
		return 0;
	case ID_MAC: {
		unsigned m[6];
		char tail;

		if (sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4],
		           &m[5], &tail) != 6 ||
		    strlen(val) != 17 || (m[0] & 1))
			goto bad;
		for (int i = 0; i < 6; i++)
			id->mac[i] = (uint8_t)m[i];
		id->has_mac = true;
		return 0;
	}
	case ID_SEED: {
		size_t n = strlen(val);

		if (n == 0 || n % 2 || n / 2 > sizeof(id->seed))
			goto bad;
		for (size_t i = 0; i < n / 2; i++) {
			unsigned b;

			if (sscanf(val + 2 * i, "%2x", &b) != 1 ||
			    !isxdigit((unsigned char)val[2 * i]) ||
			    !isxdigit((unsigned char)val[2 * i + 1]))
				goto bad;
			id->seed[i] = (uint8_t)b;
		}
		id->seed_len = n / 2;
		return 0;
	}
	case ID_TIME: {
		char *end;
		unsigned long long v;

		if (val[0] < '0' || val[0] > '9')
			goto bad;
		errno = 0;
		v = strtoull(val, &end, 10);
		if (errno || *end)
			goto bad;
		id->time_ms = v;
		return 0;
	}
	}
bad:
	snprintf(err, errlen, "invalid %s=%.80s", key, val);
	return -EINVAL;
}

/* Strips leading and trailing blanks (space, tab, CR) in place. */
static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * Parses identity text; it ends at the first NUL. A file has one key=value
 * per line (blank lines and lines starting with '#' are skipped, blanks
 * around a line are stripped); the kernel command line has
 * whitespace-separated tokens of which only mc.* ones count. Checks that
 * required keys are present. Returns 0, or -ENOENT (command line without any
 * mc.* token) or -EINVAL with a reason in err.
 */
static int identity_parse(struct identity *id, char *text, bool cmdline, char *err, size_t errlen)
{
	unsigned seen = 0;
	char *save = NULL;
	unsigned need;

	memset(id, 0, sizeof(*id));
	id->hb_ms = AGENT_HB_DEFAULT_MS;
	const char *sep = cmdline ? " \t\r\n" : "\n";

	for (char *tok = strtok_r(text, sep, &save); tok != NULL;
	     tok = strtok_r(NULL, sep, &save)) {
		char *eq;
		size_t k;

		if (cmdline && strncmp(tok, "mc.", 3) != 0)
			continue;
		tok = trim(tok);
		if (tok[0] == '\0' || tok[0] == '#')
			continue;
		eq = strchr(tok, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "malformed entry '%.80s' (want key=value)", tok);
			return -EINVAL;
		}
		*eq = '\0';
		for (k = 0; k < sizeof(id_keys) / sizeof(id_keys[0]); k++) {
			const char *name = cmdline ? id_keys[k].cmdline : id_keys[k].key;

			if (name != NULL && strcmp(name, tok) == 0)
				break;
		}
		if (k == sizeof(id_keys) / sizeof(id_keys[0])) {
			snprintf(err, errlen, "unknown key '%.80s'", tok);
			return -EINVAL;
		}
		if (seen & id_keys[k].bit) {
			snprintf(err, errlen, "duplicate key '%.80s'", tok);
			return -EINVAL;
		}
		seen |= id_keys[k].bit;
		int rc = identity_set(id, id_keys[k].bit, tok, eq + 1, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (cmdline && seen == 0) {
		snprintf(err, errlen, "no mc.* parameters on the kernel command line");
		return -ENOENT;
	}
	need = ID_NAME;
	if (!cmdline)
		need |= ID_VERSION;
	if (!id->probe && !id->template)
		need |= ID_INDEX | ID_IP | ID_PREFIX | ID_CONTROLLER;
	if ((seen & need) != need) {
		for (size_t k = 0; k < sizeof(id_keys) / sizeof(id_keys[0]); k++) {
			if ((need & id_keys[k].bit) && !(seen & id_keys[k].bit)) {
				snprintf(err, errlen, "missing %s",
				         cmdline ? id_keys[k].cmdline : id_keys[k].key);
				break;
			}
		}
		return -EINVAL;
	}
	if ((seen & (ID_IP | ID_PREFIX)) == ID_IP || (seen & (ID_IP | ID_PREFIX)) == ID_PREFIX) {
		snprintf(err, errlen, "ip and prefix go together");
		return -EINVAL;
	}
	if ((seen & ID_GATEWAY) && !(seen & ID_IP)) {
		snprintf(err, errlen, "gateway without ip");
		return -EINVAL;
	}
	id->has_ip = (seen & ID_IP) != 0;
	return 0;
}

static int identity_load_from(struct agent *a, bool quiet);

/* Loads the identity from $MC_AGENT_IDENTITY, fw_cfg or /proc/cmdline. */
static int identity_load(struct agent *a)
{
	return identity_load_from(a, false);
}

/* The same, without logging failures (the template's polling loop). */
static int identity_load_quiet(struct agent *a)
{
	return identity_load_from(a, true);
}

static int identity_load_from(struct agent *a, bool quiet)
{
	const char *env = getenv("MC_AGENT_IDENTITY");
	const char *path = env != NULL ? env : AGENT_IDENTITY_PATH;
	struct identity id;
	char err[160] = "";
	char *buf;
	ssize_t n;
	int rc;

	buf = malloc(AGENT_CMDLINE_MAX);
	if (buf == NULL)
		return -ENOMEM;
	n = read_small_file(path, buf, AGENT_IDENTITY_MAX);
	if (n >= 0) {
		rc = identity_parse(&id, buf, false, err, sizeof(err));
		if (rc < 0)
			if (!quiet)
				agent_log(a, "identity %s: %s", path, err);
	} else if (env != NULL || n != -ENOENT) {
		if (!quiet)
			agent_log(a, "identity %s: read: %s", path, strerror((int)-n));
		rc = (int)n;
	} else {
		n = read_small_file("/proc/cmdline", buf, AGENT_CMDLINE_MAX);
		if (n < 0) {
			if (!quiet)
				agent_log(a, "identity: no %s and /proc/cmdline unreadable: %s",
				          AGENT_IDENTITY_PATH, strerror((int)-n));
			rc = (int)n;
		} else {
			rc = identity_parse(&id, buf, true, err, sizeof(err));
			if (rc < 0)
				if (!quiet)
					agent_log(a, "identity: no %s; kernel command line: %s",
					          AGENT_IDENTITY_PATH, err);
		}
	}
	free(buf);
	if (rc == 0)
		a->id = id;
	return rc;
}

/* ---- network ---- */

static void set_sin(struct sockaddr *sa, struct in_addr addr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = addr};

	memcpy(sa, &sin, sizeof(sin));
}

static int if_up(int s, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

static int route_add(int s, struct in_addr dst, struct in_addr mask, const struct in_addr *gw,
                     const char *dev)
{
	struct rtentry rt;

	memset(&rt, 0, sizeof(rt));
	set_sin(&rt.rt_dst, dst);
	set_sin(&rt.rt_genmask, mask);
	rt.rt_flags = RTF_UP;
	if (mask.s_addr == INADDR_BROADCAST)
		rt.rt_flags |= RTF_HOST;
	if (gw != NULL) {
		set_sin(&rt.rt_gateway, *gw);
		rt.rt_flags |= RTF_GATEWAY;
	}
	rt.rt_dev = (char *)dev;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Sets the hostname, brings lo up and configures eth0 from the identity. */
static int net_setup(struct agent *a)
{
	const struct identity *id = &a->id;
	struct in_addr mask, any = {.s_addr = 0};
	struct ifreq ifr;
	int s, rc = 0;

	if (sethostname(id->name, strlen(id->name)) < 0)
		agent_log(a, "sethostname: %s", strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		agent_log(a, "network: socket: %s", strerror(errno));
		return -errno;
	}
	rc = if_up(s, "lo");
	if (rc < 0)
		agent_log(a, "network: lo up: %s", strerror(-rc));
	rc = 0;
	if (!id->has_ip)
		goto out;

	/* Drivers loaded by init.sh may register eth0 a little later. A probe
	 * boot usually has no NIC at all: it does not wait. */
	for (int tries = 0; tries < (id->probe ? 1 : 40); tries++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 || errno != ENODEV)
			break;
		usleep(50 * 1000);
	}
	if (id->has_mac) {
		int err = 0;

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
		ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
		memcpy(ifr.ifr_hwaddr.sa_data, id->mac, 6);
		if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0)
			err = errno;
		if (err == EBUSY) {
			/* A NIC without live MAC changes: down, change, up again below. */
			struct ifreq fl;

			memset(&fl, 0, sizeof(fl));
			snprintf(fl.ifr_name, sizeof(fl.ifr_name), "eth0");
			if (ioctl(s, SIOCGIFFLAGS, &fl) == 0) {
				fl.ifr_flags &= ~IFF_UP;
				ioctl(s, SIOCSIFFLAGS, &fl);
			}
			err = ioctl(s, SIOCSIFHWADDR, &ifr) < 0 ? errno : 0;
		}
		if (err)
			agent_log(a, "network: eth0 mac: %s", strerror(err));
	}
	mask.s_addr = htonl(id->prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> id->prefix));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	set_sin(&ifr.ifr_addr, id->ip);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
		rc = -errno;
		agent_log(a, "network: eth0 address: %s", strerror(errno));
		goto out;
	}
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) {
		rc = -errno;
		agent_log(a, "network: eth0 netmask /%u: %s", id->prefix, strerror(errno));
		goto out;
	}
	/* The kernel keeps the classful broadcast for /31 and /32: set it. */
	{
		struct in_addr brd = {.s_addr = id->prefix >= 31 ? 0
		                                                 : (id->ip.s_addr | ~mask.s_addr)};

		set_sin(&ifr.ifr_broadaddr, brd);
		if (ioctl(s, SIOCSIFBRDADDR, &ifr) < 0)
			agent_log(a, "network: eth0 broadcast: %s", strerror(errno));
	}
	rc = if_up(s, "eth0");
	if (rc < 0) {
		agent_log(a, "network: eth0 up: %s", strerror(-rc));
		goto out;
	}
	if (id->has_gw) {
		struct in_addr host = {.s_addr = INADDR_BROADCAST};

		/* A gateway outside our subnet (e.g. a /32 on a routed tap) needs
		 * an on-link host route first. */
		if ((id->gw.s_addr & mask.s_addr) != (id->ip.s_addr & mask.s_addr)) {
			rc = route_add(s, id->gw, host, NULL, "eth0");
			if (rc < 0) {
				agent_log(a, "network: route to gateway: %s", strerror(-rc));
				goto out;
			}
		}
		rc = route_add(s, any, any, &id->gw, "eth0");
		if (rc < 0)
			agent_log(a, "network: default route: %s", strerror(-rc));
	}
out:
	close(s);
	return rc;
}

/* ---- sending ---- */

static bool send_pending(const struct agent *a)
{
	return a->need_hello || a->q_head != NULL;
}

/* Tries to send one frame now. Returns 0, -EAGAIN, or another negative errno. */
static int send_now(struct agent *a, const uint8_t *buf, size_t len)
{
	if (zmq_send(a->sock, buf, len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

static int encode(struct agent *a, const struct mc_msg *m, size_t *len)
{
	int rc = mc_proto_encode(m, a->obuf, sizeof(a->obuf), len);

	if (rc < 0)
		agent_log(a, "encode %s: error %d", mc_proto_type_name(m->type), rc);
	return rc;
}

/* Sends m in order after anything already queued; queues it if the socket
 * cannot take it now. */
static void send_queued(struct agent *a, const struct mc_msg *m)
{
	struct outq_item *it;
	size_t len;

	if (encode(a, m, &len) < 0)
		return;
	if (a->q_head == NULL) {
		int rc = send_now(a, a->obuf, len);

		if (rc == 0)
			return;
		if (rc != -EAGAIN) {
			agent_log(a, "send %s: %s", mc_proto_type_name(m->type), zmq_strerror(-rc));
			return;
		}
	}
	it = malloc(sizeof(*it) + len);
	if (it == NULL) {
		agent_log(a, "send %s: out of memory: dropped", mc_proto_type_name(m->type));
		return;
	}
	it->next = NULL;
	it->len = len;
	memcpy(it->data, a->obuf, len);
	if (a->q_tail != NULL)
		a->q_tail->next = it;
	else
		a->q_head = it;
	a->q_tail = it;
	a->q_bytes += len;
}

static void send_hello(struct agent *a)
{
	struct mc_msg m = {.type = MC_MSG_HELLO};
	size_t len;
	int rc;

	m.u.hello.name = a->id.name;
	m.u.hello.index = a->id.index;
	m.u.hello.kernel = a->kernel;
	m.u.hello.uptime_ms = clock_ms(CLOCK_BOOTTIME);
	m.u.hello.boot_id = a->boot_id;
	a->need_hello = true;
	if (encode(a, &m, &len) < 0)
		return;
	rc = send_now(a, a->obuf, len);
	if (rc == 0)
		a->need_hello = false;
	else if (rc != -EAGAIN)
		agent_log(a, "send HELLO: %s", zmq_strerror(-rc));
}

static unsigned cmds_running(const struct agent *a)
{
	unsigned n = 0;

	for (int i = 0; i < AGENT_MAX_CMDS; i++)
		n += a->cmds[i].used;
	return n;
}

/* Heartbeats are never queued: a stale one is worthless. */
static void send_heartbeat(struct agent *a)
{
	struct mc_msg m = {.type = MC_MSG_HEARTBEAT};
	size_t len;

	m.u.hb.seq = a->hb_seq + 1;
	m.u.hb.uptime_ms = clock_ms(CLOCK_BOOTTIME);
	m.u.hb.running = cmds_running(a);
	if (encode(a, &m, &len) < 0)
		return;
	if (send_now(a, a->obuf, len) == 0)
		a->hb_seq++;
}

static void send_error(struct agent *a, uint32_t id, int code, const char *text)
{
	struct mc_msg m = {.type = MC_MSG_ERROR, .id = id};

	m.u.error.code = code;
	m.u.error.text = (char *)text;
	send_queued(a, &m);
}

/* Sends a pending HELLO, then queued messages, while the socket takes them. */
static void flush_queue(struct agent *a)
{
	if (a->need_hello)
		send_hello(a);
	if (a->need_hello)
		return;
	while (a->q_head != NULL) {
		struct outq_item *it = a->q_head;
		int rc = send_now(a, it->data, it->len);

		if (rc == -EAGAIN)
			return;
		if (rc < 0)
			agent_log(a, "send: %s: dropped", zmq_strerror(-rc));
		a->q_head = it->next;
		if (a->q_head == NULL)
			a->q_tail = NULL;
		a->q_bytes -= it->len;
		free(it);
	}
}

static void free_queue(struct agent *a)
{
	while (a->q_head != NULL) {
		struct outq_item *it = a->q_head;

		a->q_head = it->next;
		free(it);
	}
	a->q_tail = NULL;
	a->q_bytes = 0;
}

/* ---- commands ---- */

/* Writes "mc-agent: what arg: strerror(err)" to fd 2; async-signal-safe. */
static void child_fail(const char *what, const char *arg, int err)
{
	char msg[512];
	size_t n = 0;
	const char *parts[] = {"mc-agent: ", what, " ", arg, ": ", strerrordesc_np(err), "\n"};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *p = parts[i] != NULL ? parts[i] : "unknown error";
		size_t l = strlen(p);

		if (l > sizeof(msg) - n)
			l = sizeof(msg) - n;
		memcpy(msg + n, p, l);
		n += l;
	}
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(127);
}

/* The forked child: only async-signal-safe calls from here on. */
__attribute__((noreturn)) static void child_exec(const struct child_args *c)
{
	const char *file = c->argv[0];
	char buf[2 * PATH_MAX + 2];
	int err = ENOENT;
	bool eacces = false;

	sigprocmask(SIG_SETMASK, c->mask, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	if (c->devnull >= 0)
		dup2(c->devnull, STDIN_FILENO);
	else
		close(STDIN_FILENO);
	dup2(c->out_w, STDOUT_FILENO);
	dup2(c->err_w, STDERR_FILENO);
	syscall(SYS_close_range, 3u, ~0u, 0u); /* all else is CLOEXEC too */
	if (chdir(c->cwd) < 0) {
		child_fail("chdir", c->cwd, errno);
		_exit(127);
	}
	if (strchr(file, '/') != NULL) {
		execve(file, c->argv, c->envp);
		child_fail("exec", file, errno);
		_exit(127);
	}
	for (const char *p = c->path;;) {
		const char *end = strchr(p, ':');
		size_t dl = end != NULL ? (size_t)(end - p) : strlen(p);
		size_t fl = strlen(file);

		if (dl == 0) {
			buf[0] = '.';
			dl = 1;
		} else if (dl < PATH_MAX) {
			memcpy(buf, p, dl);
		}
		if (dl < PATH_MAX && fl < PATH_MAX) {
			buf[dl] = '/';
			memcpy(buf + dl + 1, file, fl + 1);
			execve(buf, c->argv, c->envp);
			if (errno == EACCES)
				eacces = true;
			else if (errno != ENOENT && errno != ENOTDIR)
				err = errno;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (eacces && err == ENOENT)
		err = EACCES;
	child_fail("exec", file, err);
	_exit(127);
}

/* Builds the child environment: defaults, minus what env overrides, plus env. */
static char **build_env(const struct mc_msg_exec *e, const char **path)
{
	static const char *const defaults[] = {
	        "PATH=" AGENT_DEFAULT_PATH,
	        "HOME=/root",
	        "TERM=dumb",
	        "LD_LIBRARY_PATH=" AGENT_RUNTIME_DIR "/lib:" AGENT_SHARE_DIR "/lib",
	};
	const size_t nd = sizeof(defaults) / sizeof(defaults[0]);
	char **envp = calloc(nd + e->envc + 1, sizeof(*envp));
	size_t n = 0;

	if (envp == NULL)
		return NULL;
	for (size_t d = 0; d < nd; d++) {
		size_t kl = (size_t)(strchr(defaults[d], '=') - defaults[d]) + 1;
		bool overridden = false;

		for (uint32_t i = 0; i < e->envc; i++)
			if (strncmp(e->env[i], defaults[d], kl) == 0)
				overridden = true;
		if (!overridden)
			envp[n++] = (char *)defaults[d];
	}
	for (uint32_t i = 0; i < e->envc; i++)
		envp[n++] = e->env[i];
	envp[n] = NULL;
	*path = AGENT_DEFAULT_PATH;
	for (size_t i = 0; i < n; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			*path = envp[i] + 5;
	return envp;
}

static struct cmd *cmd_find(struct agent *a, uint32_t id)
{
	for (int i = 0; i < AGENT_MAX_CMDS; i++)
		if (a->cmds[i].used && a->cmds[i].id == id)
			return &a->cmds[i];
	return NULL;
}

/* Starts the command of an EXEC message; answers ERROR if it cannot. */
static void cmd_start(struct agent *a, uint32_t id, const struct mc_msg_exec *e)
{
	if (a->data_ro) {
		remount_data_rw(a);
		a->data_ro = false;
	}
	if (a->share_pending) {
		mount_share(a);
		a->share_pending = false;
	}
	struct child_args ca = {.mask = &a->oldmask, .argv = e->argv, .devnull = -1};
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	struct cmd *c = NULL;
	char **envp = NULL;
	pid_t pid;
	int err;

	if (cmd_find(a, id) != NULL) {
		send_error(a, id, EEXIST, "exec id already running");
		return;
	}
	for (int i = 0; i < AGENT_MAX_CMDS && c == NULL; i++)
		if (!a->cmds[i].used)
			c = &a->cmds[i];
	if (c == NULL) {
		send_error(a, id, EBUSY, "too many running commands");
		return;
	}
	envp = build_env(e, &ca.path);
	if (envp == NULL) {
		err = ENOMEM;
		goto fail;
	}
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	if (fcntl(outp[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) < 0) {
		err = errno;
		goto fail;
	}
	ca.envp = envp;
	ca.cwd = e->cwd[0] != '\0' ? e->cwd : "/";
	ca.out_w = outp[1];
	ca.err_w = errp[1];
	ca.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid = fork();
	if (pid < 0) {
		err = errno;
		goto fail;
	}
	if (pid == 0)
		child_exec(&ca);

	memset(c, 0, sizeof(*c));
	c->used = true;
	c->id = id;
	c->pid = pid;
	c->fd[0] = outp[0];
	c->fd[1] = errp[0];
	c->start_ms = mono_ms();
	c->deadline_ms = e->timeout_ms != 0 ? c->start_ms + e->timeout_ms : 0;
	close(outp[1]);
	close(errp[1]);
	if (ca.devnull >= 0)
		close(ca.devnull);
	free(envp);
	return;

fail:
	agent_log(a, "exec %" PRIu32 " %s: %s", id, e->argv[0], strerror(err));
	send_error(a, id, err, strerror(err));
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (ca.devnull >= 0)
		close(ca.devnull);
	free(envp);
}

static void cmd_close_fd(struct cmd *c, int which)
{
	if (c->fd[which] >= 0) {
		close(c->fd[which]);
		c->fd[which] = -1;
	}
}

/* Reads what is available on one pipe of c and forwards it as OUTPUT. */
static void cmd_read(struct agent *a, struct cmd *c, int which)
{
	ssize_t n = read(c->fd[which], a->rbuf, sizeof(a->rbuf));

	if (n > 0) {
		struct mc_msg m = {.type = MC_MSG_OUTPUT, .id = c->id};

		m.u.output.stream = which == 0 ? MC_STREAM_STDOUT : MC_STREAM_STDERR;
		m.u.output.len = (uint32_t)n;
		m.u.output.data = a->rbuf;
		send_queued(a, &m);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		agent_log(a, "exec %" PRIu32 ": read: %s", c->id, strerror(errno));
	cmd_close_fd(c, which);
}

/* Sends EXIT and frees the slot once c was reaped and both pipes are shut. */
static void cmd_try_finish(struct agent *a, struct cmd *c)
{
	struct mc_msg m = {.type = MC_MSG_EXIT, .id = c->id};

	if (!c->used || !c->reaped || c->fd[0] >= 0 || c->fd[1] >= 0)
		return;
	if (WIFSIGNALED(c->wstatus)) {
		m.u.exit.status = -1;
		m.u.exit.signal = WTERMSIG(c->wstatus);
	} else {
		m.u.exit.status = WEXITSTATUS(c->wstatus);
		m.u.exit.signal = 0;
	}
	m.u.exit.timed_out = c->timed_out;
	m.u.exit.duration_ms = c->end_ms - c->start_ms;
	send_queued(a, &m);
	c->used = false;
}

/* Enforces timeouts: SIGKILL the process group; if pipes stay open past a
 * grace period (a descendant escaped the group), shut them. */
static void cmd_check_deadline(struct agent *a, struct cmd *c, uint64_t now)
{
	if (!c->used || c->deadline_ms == 0 || now < c->deadline_ms)
		return;
	if (!c->timed_out) {
		c->timed_out = true;
		if (kill(-c->pid, SIGKILL) < 0 && errno != ESRCH)
			agent_log(a, "exec %" PRIu32 ": kill: %s", c->id, strerror(errno));
		c->deadline_ms = now + AGENT_KILL_GRACE_MS;
		return;
	}
	cmd_close_fd(c, 0);
	cmd_close_fd(c, 1);
	c->deadline_ms = c->reaped ? 0 : now + AGENT_KILL_GRACE_MS;
}

/* Sends sig to the process group of running command id (the controller
 * forwards a client's Ctrl-C or a launcher's termination). */
static void cmd_signal(struct agent *a, uint32_t id, int sig)
{
	for (int i = 0; i < AGENT_MAX_CMDS; i++) {
		struct cmd *c = &a->cmds[i];

		if (!c->used || c->id != id || c->reaped)
			continue;
		if (kill(-c->pid, sig) < 0 && errno != ESRCH)
			agent_log(a, "exec %" PRIu32 ": signal %d: %s", id, sig, strerror(errno));
		return;
	}
}

/* Kills every running command and waits briefly for them to be reaped. */
static void cmds_kill_all(struct agent *a)
{
	uint64_t deadline = mono_ms() + 1000;

	for (int i = 0; i < AGENT_MAX_CMDS; i++) {
		struct cmd *c = &a->cmds[i];

		if (c->used && !c->reaped)
			kill(-c->pid, SIGKILL);
	}
	for (;;) {
		bool left = false;
		struct pollfd pfd = {.fd = a->sigfd, .events = POLLIN};
		uint64_t now;

		reap_children(a);
		for (int i = 0; i < AGENT_MAX_CMDS; i++)
			left |= a->cmds[i].used && !a->cmds[i].reaped;
		now = mono_ms();
		if (!left || now >= deadline)
			break;
		if (poll(&pfd, 1, (int)(deadline - now)) > 0) {
			struct signalfd_siginfo si;

			while (read(a->sigfd, &si, sizeof(si)) > 0)
				;
		}
	}
	for (int i = 0; i < AGENT_MAX_CMDS; i++) {
		cmd_close_fd(&a->cmds[i], 0);
		cmd_close_fd(&a->cmds[i], 1);
		a->cmds[i].used = false;
	}
}

/* ---- control messages ---- */

static void handle_frame(struct agent *a, const uint8_t *buf, size_t len)
{
	struct mc_msg m;
	int rc = mc_proto_decode(buf, len, &m);

	if (rc < 0) {
		agent_log(a, "control: dropped malformed message (%zu bytes, error %d)", len, rc);
		return;
	}
	switch (m.type) {
	case MC_MSG_EXEC:
		cmd_start(a, m.id, &m.u.exec);
		break;
	case MC_MSG_SIGNAL:
		cmd_signal(a, m.id, (int)m.u.signal.signal);
		break;
	case MC_MSG_SHUTDOWN:
		agent_log(a, "control: shutdown");
		a->stop = true;
		break;
	case MC_MSG_ERROR:
		if (m.u.error.code == ENOTCONN) {
			send_hello(a);
		} else {
			agent_log(a, "control: error %" PRId32 " for id %" PRIu32 ": %s",
			          m.u.error.code, m.id, m.u.error.text);
		}
		break;
	default:
		agent_log(a, "control: dropped unexpected %s", mc_proto_type_name(m.type));
		break;
	}
	mc_msg_fini(&m);
}

/* Receives what is waiting on the socket (bounded per call). */
static void handle_socket_in(struct agent *a)
{
	for (int i = 0; i < 64 && !a->stop; i++) {
		zmq_msg_t msg;
		bool dropped = false;

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, a->sock, ZMQ_DONTWAIT) < 0) {
			if (errno != EAGAIN && errno != EINTR)
				agent_log(a, "control: receive: %s", zmq_strerror(errno));
			zmq_msg_close(&msg);
			return;
		}
		/* One protocol message is exactly one frame. */
		while (zmq_msg_more(&msg)) {
			dropped = true;
			if (zmq_msg_recv(&msg, a->sock, 0) < 0)
				break;
		}
		if (dropped)
			agent_log(a, "control: dropped multi-part message");
		else
			handle_frame(a, zmq_msg_data(&msg), zmq_msg_size(&msg));
		zmq_msg_close(&msg);
	}
}

/* ---- main loop ---- */

/* Creates the ZeroMQ context (and its I/O threads) ahead of the identity:
 * a template does it before it is saved, so clones start with it. */
static int zmq_prepare(struct agent *a)
{
	if (a->zctx == NULL)
		a->zctx = zmq_ctx_new();
	if (a->zctx == NULL) {
		agent_log(a, "zmq context: %s", zmq_strerror(errno));
		return -errno;
	}
	/* The first socket starts the context's I/O and reaper threads. */
	if (a->sock == NULL)
		a->sock = zmq_socket(a->zctx, ZMQ_DEALER);
	if (a->sock == NULL) {
		agent_log(a, "zmq socket: %s", zmq_strerror(errno));
		return -errno;
	}
	return 0;
}

static int zmq_setup(struct agent *a)
{
	int linger = AGENT_LINGER_MS, one = 1, hwm = AGENT_HWM, ivl = AGENT_RECONNECT_MS;
	int ivl_max = AGENT_RECONNECT_MAX_MS;
	/* ZMTP heartbeats: a connection that carries nothing back for a while is dropped and
	 * made again. That is what a guest restored from a checkpoint needs: its TCP state is
	 * older than the controller's, so the old connection can never carry a byte again. */
	int zhb_ivl = (int)(2 * a->id.hb_ms);
	int zhb_timeout = (int)(6 * a->id.hb_ms) > 5000 ? (int)(6 * a->id.hb_ms) : 5000;
	int64_t maxmsg = MC_PROTO_MAX_MSG;
	const char *what;
	char rid[80];
	int err;

	what = "context";
	if (zmq_prepare(a) < 0)
		goto fail;
	what = "socket";
	if (a->sock == NULL)
		goto fail;
	what = "options";
	/* "<name>.<boot id>": a rebooted guest is a new peer, never a duplicate of the
	 * connection its previous life left behind (docs/protocol.md). */
	snprintf(rid, sizeof(rid), "%s.%08" PRIx32, a->id.name, a->boot_id);
	if (zmq_setsockopt(a->sock, ZMQ_ROUTING_ID, rid, strlen(rid)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_HEARTBEAT_IVL, &zhb_ivl, sizeof(zhb_ivl)) < 0 ||
	    zmq_setsockopt(a->sock, ZMQ_HEARTBEAT_TIMEOUT, &zhb_timeout, sizeof(zhb_timeout)) < 0)
		goto fail;
	what = "connect";
	if (zmq_connect(a->sock, a->id.controller) < 0)
		goto fail;
	return 0;
fail:
	err = errno;
	agent_log(a, "zmq %s %s: %s", what, a->id.controller, zmq_strerror(err));
	return -err;
}

static void zmq_teardown(struct agent *a)
{
	if (a->sock != NULL)
		zmq_close(a->sock);
	a->sock = NULL;
	if (a->zctx != NULL)
		zmq_ctx_term(a->zctx);
	a->zctx = NULL;
}

/* Milliseconds until the next heartbeat or command deadline. */
static long next_timeout(const struct agent *a, uint64_t now)
{
	uint64_t next = a->next_hb_ms;

	for (int i = 0; i < AGENT_MAX_CMDS; i++) {
		const struct cmd *c = &a->cmds[i];

		if (c->used && c->deadline_ms != 0 && c->deadline_ms < next)
			next = c->deadline_ms;
	}
	return next <= now ? 0 : (long)(next - now);
}

static int agent_loop(struct agent *a)
{
	zmq_pollitem_t items[2 + 2 * AGENT_MAX_CMDS];
	struct {
		struct cmd *c;
		int which;
	} map[2 * AGENT_MAX_CMDS];

	send_hello(a);
	a->next_hb_ms = mono_ms() + a->id.hb_ms;
	while (!a->stop) {
		int n = 0, np = 0;
		uint64_t now;

		items[n++] = (zmq_pollitem_t){
		        .socket = a->sock,
		        .events = (short)(ZMQ_POLLIN | (send_pending(a) ? ZMQ_POLLOUT : 0))};
		items[n++] = (zmq_pollitem_t){.fd = a->sigfd, .events = ZMQ_POLLIN};
		/* Back-pressure: a slow controller pauses the commands' output. */
		if (a->q_bytes < AGENT_QUEUE_MAX) {
			for (int i = 0; i < AGENT_MAX_CMDS; i++) {
				struct cmd *c = &a->cmds[i];

				for (int w = 0; w < 2; w++) {
					if (!c->used || c->fd[w] < 0)
						continue;
					map[np].c = c;
					map[np].which = w;
					np++;
					items[n++] = (zmq_pollitem_t){.fd = c->fd[w],
					                              .events = ZMQ_POLLIN};
				}
			}
		}
		if (zmq_poll(items, n, next_timeout(a, mono_ms())) < 0) {
			if (errno == EINTR)
				continue;
			agent_log(a, "poll: %s", zmq_strerror(errno));
			return -errno;
		}
		if (items[1].revents)
			handle_signals(a);
		if (items[0].revents & ZMQ_POLLIN)
			handle_socket_in(a);
		if (a->stop)
			break;
		if (items[0].revents & ZMQ_POLLOUT)
			flush_queue(a);
		for (int i = 0; i < np; i++)
			if (items[2 + i].revents && map[i].c->fd[map[i].which] == items[2 + i].fd)
				cmd_read(a, map[i].c, map[i].which);
		now = mono_ms();
		for (int i = 0; i < AGENT_MAX_CMDS; i++) {
			cmd_check_deadline(a, &a->cmds[i], now);
			cmd_try_finish(a, &a->cmds[i]);
		}
		if (now >= a->next_hb_ms) {
			send_heartbeat(a);
			a->next_hb_ms += a->id.hb_ms;
			if (a->next_hb_ms <= now)
				a->next_hb_ms = now + a->id.hb_ms;
		}
	}
	return 0;
}

/* Blocks the signals the agent takes through its signalfd. */
static int signals_setup(struct agent *a)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (!a->pid1) {
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
	}
	if (sigprocmask(SIG_BLOCK, &set, &a->oldmask) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return -errno;
	return 0;
}

static uint32_t random_boot_id(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* Early boot without entropy yet: good enough to tell restarts apart. */
	return (uint32_t)(clock_ms(CLOCK_BOOTTIME) * 2654435761u) ^ (uint32_t)getpid() ^
	       (uint32_t)clock_ms(CLOCK_REALTIME);
}

/*
 * A template sits here, idle, until the controller saves it. Every clone
 * resumes inside this loop with its own fw_cfg identity (same size, so the
 * sysfs entry the template found still covers it) and leaves as soon as the
 * identity no longer says template=1. Returns 0 or a negative errno.
 */
static int await_clone(struct agent *a)
{
	static const char line[] = "microcosm-agent template-ready\n";
	const struct timespec tick = {0, 20 * 1000 * 1000};

	if (write(STDERR_FILENO, line, sizeof(line) - 1) < 0)
		agent_log(a, "template line: %s", strerror(errno));
	for (;;) {
		struct identity saved = a->id;

		nanosleep(&tick, NULL);
		reap_children(a);
		if (identity_load_quiet(a) == 0 && !a->id.template)
			return 0;
		a->id = saved;
	}
}

/* With trace=1, marks a start-up stage on the console. */
static void stage(const struct agent *a, const char *what)
{
	char line[96];
	int n;

	if (!a->id.trace)
		return;
	n = snprintf(line, sizeof(line), "mc-agent stage %s %llu\n", what,
	             (unsigned long long)clock_ms(CLOCK_BOOTTIME));
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/*
 * Mixes the controller's per-guest seed into the kernel's entropy pool
 * (clones of one template start with identical RNG state) and sets the wall
 * clock from the controller's (a clone's clock is the template's).
 */
static void apply_seed_and_clock(struct agent *a)
{
	if (a->id.seed_len > 0) {
		int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, a->id.seed, a->id.seed_len) < 0)
				agent_log(a, "seed: %s", strerror(errno));
			/* Writing only mixes the seed into the input pool: the CRNG that
			 * getrandom() and /dev/urandom read would keep the template's key
			 * (every clone the same numbers) until its next scheduled reseed.
			 * Reseed it now, from the pool that holds this guest's seed. */
			if (ioctl(fd, RNDRESEEDCRNG) < 0 && errno != ENODATA)
				agent_log(a, "reseed the kernel RNG: %s", strerror(errno));
			close(fd);
		}
	}
	if (a->setup && a->id.time_ms > 0) {
		struct timespec ts = {(time_t)(a->id.time_ms / 1000),
		                      (long)(a->id.time_ms % 1000) * 1000000};

		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			agent_log(a, "set clock: %s", strerror(errno));
	}
}

/*
 * Everything the agent does, in order. Returns 0 when it should end
 * normally (SHUTDOWN, probe done, SIGTERM) or a negative errno on a fatal
 * error; main() decides what ending means (power off as PID 1).
 */
static int agent_run(struct agent *a)
{
	const char *setup_env = getenv("MC_AGENT_SETUP");
	struct utsname un;
	int rc;

	a->sigfd = -1;
	a->pid1 = getpid() == 1;
	a->setup = a->pid1 || (setup_env != NULL && strcmp(setup_env, "1") == 0);
	ensure_std_fds();
	rc = signals_setup(a);
	if (rc < 0) {
		agent_log(a, "signals: %s", strerror(-rc));
		return rc;
	}
	if (a->setup) {
		setup_filesystems(a);
		run_init_script(a);
	}
	rc = identity_load(a);
	if (rc < 0) {
		agent_log(a, "no valid identity");
		return rc;
	}
	if (a->id.template) {
		/* Everything that costs a clone translation time is done here, once. */
		if (a->setup) {
			mount_data(a, true);
			warm_runtime(a);
			links_up_early(a);
		}
		rc = zmq_prepare(a);
		if (rc < 0)
			return rc;
		rc = await_clone(a);
		if (rc < 0)
			return rc;
		stage(a, "identity");
		/* /data stays read-only until the first command: an idle clone never
		 * pays for the ext4 remount (see cmd_start). */
		a->data_ro = a->setup;
	} else if (a->setup) {
		mount_data(a, false);
		data_writeback(a);
	}
	a->share_pending = a->setup && a->id.share;
	apply_seed_and_clock(a);
	stage(a, "seed");
	if (a->setup) {
		rc = net_setup(a);
		if (rc < 0 && !a->id.probe) {
			agent_log(a, "network setup failed");
			return rc;
		}
	}
	if (uname(&un) == 0)
		snprintf(a->kernel, sizeof(a->kernel), "%s", un.release);
	a->boot_id = random_boot_id();
	if (a->id.seed_len >= sizeof(a->boot_id)) {
		uint32_t s4;

		memcpy(&s4, a->id.seed, sizeof(s4));
		a->boot_id ^= s4; /* clones share the template's RNG state until reseeded */
	}

	/* The controller's accelerator probe waits for exactly this line. */
	{
		char line[128];
		int n = snprintf(line, sizeof(line), "microcosm-agent ready name=%s\n", a->id.name);

		if (write(STDERR_FILENO, line, (size_t)n) < 0)
			agent_log(a, "ready line: %s", strerror(errno));
	}
	if (a->id.probe)
		return 0;

	stage(a, "network");
	rc = zmq_setup(a);
	stage(a, "zmq");
	if (rc == 0)
		rc = agent_loop(a);
	cmds_kill_all(a);
	zmq_teardown(a);
	free_queue(a);
	return rc;
}

/* PID 1 never exits: sync, then reboot, which ends the guest (QEMU runs with -no-reboot). */
__attribute__((noreturn)) static void power_off(void)
{
	sync();
	umount2("/data", 0);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;) {
		if (waitpid(-1, NULL, 0) < 0)
			pause();
	}
}

int main(int argc, char **argv)
{
	struct agent *a;
	int rc;

	/* The kernel passes unknown boot parameters to init as arguments: ignore them. */
	(void)argc;
	(void)argv;
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		agent_log(NULL, "out of memory");
		if (getpid() == 1)
			power_off();
		return 1;
	}
	rc = agent_run(a);
	if (a->pid1) {
		agent_log(a, "%s", rc < 0 ? "fatal error: powering off" : "powering off");
		power_off();
	}
	if (a->sigfd >= 0)
		close(a->sigfd);
	free(a);
	return rc < 0 ? 1 : 0;
}
