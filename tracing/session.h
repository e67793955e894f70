/* session.h — LTTng session control through liblttng-ctl: private daemons, sessions, clocks.
 *
 * Used on the host (the harness and tests/unit/test_lttng_session.c) and inside guests
 * (guests/tools/mc_trace.c). No harness dependency: only libc and liblttng-ctl.
 *
 * Call order: start a relay daemon where the trace should land (host, possibly inside a
 * cluster's network namespace), start a session daemon next to the traced programs, then
 * mc_lttng_session_create() → mc_lttng_enable_ust_events() → mc_lttng_start() → (the traced
 * programs run) → mc_lttng_stop() → mc_lttng_destroy(), and stop the daemons.
 *
 * Which session daemon the session functions reach. liblttng-ctl picks the socket itself:
 * a client whose real uid is 0 always connects to /var/run/lttng/client-lttng-sessiond
 * (compiled in, LTTNG_HOME is ignored for root), any other uid to
 * $LTTNG_HOME/.lttng/client-lttng-sessiond. A root session daemon likewise keeps its lock
 * file, consumer sockets and health socket in /var/run/lttng, whatever --client-sock says. So
 * a private root daemon needs its own /var/run/lttng: mc_lttng_sessiond_start() without
 * MC_LTTNG_SYSTEM moves the calling process into a new mount namespace where HOME/run is
 * bind-mounted on /run/lttng (see there). Traced programs register on
 * HOME/.lttng/lttng-ust-sock-8, which LTTng-UST tries in every process whose LTTNG_HOME is
 * HOME, in any mount namespace.
 */
#ifndef MC_TRACING_SESSION_H
#define MC_TRACING_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MC_LTTNG_RELAYD_PORT   5342  /* control; data is +1, live is +2 */
#define MC_LTTNG_STOP_GRACE_MS 10000 /* SIGTERM → SIGKILL in mc_lttng_daemon_stop() */

/* Flags of struct mc_lttng_sessiond_opts. */
enum {
	/*
	 * Root's default paths (/var/run/lttng), no mount namespace: for a guest, where
	 * nothing else runs a session daemon; traced programs register on the default global
	 * socket whatever their environment.
	 */
	MC_LTTNG_SYSTEM = 1u << 0,
	/*
	 * The daemon is not the caller's child: own session (setsid), no parent-death signal,
	 * reparented to init. It outlives the caller (`mc-trace start` returns, the daemon
	 * stays). Without it the daemon is a child that gets SIGTERM if the caller dies.
	 */
	MC_LTTNG_DETACH = 1u << 1,
};

/*
 * One daemon this process started. Embedded by the caller and zeroed before a start
 * function (`struct mc_lttng_daemon d = {0};`); a zeroed one is "not running".
 */
struct mc_lttng_daemon {
	pid_t pid;                     /* daemon process id; 0: not running */
	unsigned long long start_time; /* its start time (clock ticks after boot, /proc/PID/stat
	                                  field 22): guards against a reused pid */
	int child;                     /* 1: our child, reaped with waitpid(); 0: detached */
	char what[16];                 /* "lttng-sessiond" or "lttng-relayd", for messages */
	char log[512];                 /* file holding its stdout and stderr */
};

/* Options of mc_lttng_sessiond_start(); NULL means all defaults. */
struct mc_lttng_sessiond_opts {
	unsigned flags;               /* MC_LTTNG_SYSTEM, MC_LTTNG_DETACH */
	const char *sessiond;         /* executable; NULL: "lttng-sessiond" found on PATH */
	const char *consumerd;        /* 64-bit consumer daemon; NULL: the package's own */
	const char *consumerd_libdir; /* its LD_LIBRARY_PATH head; NULL: none */
	int timeout_ms;               /* readiness wait; 0: 30000 (guests under TCG are slow) */
	int verbose;                  /* 0..3: -v per level, and --verbose-consumer, to its log */
	const char *xsd_dir;          /* directory holding session.xsd, which the daemon needs
	                                 to start; NULL: the package's (/usr/share/xml/lttng) */
};

/*
 * Starts a private lttng-sessiond (`--no-kernel`, in the foreground as the caller's child,
 * or detached with MC_LTTNG_DETACH) and returns once it accepts clients and traced programs.
 *
 * home: directory for its state, created if missing (absolute path). The daemon runs with
 * LTTNG_HOME=home (its configuration and auto-loaded sessions come from home/.lttng, not
 * from the user's), logs to home/sessiond.log, and:
 *   - without MC_LTTNG_SYSTEM, it listens for traced programs on home/.lttng/lttng-ust-sock-8
 *     and the calling process gets LTTNG_HOME=home in its environment (its children register
 *     there). As root, the calling process first enters a new mount namespace (slave
 *     propagation from the host) in which home/run is bind-mounted on /run/lttng, so the
 *     daemon's run directory and the socket liblttng-ctl uses in this process are its own;
 *     /run/lttng is created (empty) on the host if missing; the binding stays for the life
 *     of the process (home/run cannot be removed before, EBUSY). The calling process must be
 *     single-threaded then (unshare(CLONE_NEWNS) fails otherwise): a harness does this in
 *     a child. Other processes reach the daemon with mc_lttng_sessiond_join().
 *   - with MC_LTTNG_SYSTEM, the daemon uses root's defaults; the calling process is left
 *     alone.
 *
 * d must be zeroed. On success d describes the daemon (stop it with mc_lttng_daemon_stop());
 * returns 0. On failure returns -1 with err set (the daemon's last log line included) and
 * nothing left running.
 */
int mc_lttng_sessiond_start(struct mc_lttng_daemon *d, const char *home,
                            const struct mc_lttng_sessiond_opts *opts, char *err, size_t errlen);

/*
 * Moves the calling process into the mount namespace of session daemon pid (started by
 * mc_lttng_sessiond_start() without MC_LTTNG_SYSTEM, as root, possibly by another process)
 * and sets LTTNG_HOME=home, so the session functions reach that daemon. The calling process
 * must be single-threaded; its working directory becomes the namespace's root (setns(2)).
 * Returns 0, or -1 with err set.
 */
int mc_lttng_sessiond_join(pid_t pid, const char *home, char *err, size_t errlen);

/*
 * Starts lttng-relayd in the foreground as the caller's child, in the caller's network
 * namespace (enter a cluster's first, e.g. setns on /proc/<controller>/ns/net), writing the
 * traces it receives under output_dir (created if missing; by default as
 * output_dir/HOSTNAME/SESSION-DATETIME/) and logging to output_dir/relayd.log.
 *
 * listen_addr: "ADDR" or "ADDR:PORT": it listens on tcp://ADDR:PORT (control), PORT+1
 * (data) and PORT+2 (live); PORT defaults to MC_LTTNG_RELAYD_PORT (5342).
 * Returns 0 once all three ports listen, or -1 with err set and nothing left running.
 */
int mc_lttng_relayd_start(struct mc_lttng_daemon *d, const char *output_dir,
                          const char *listen_addr, char *err, size_t errlen);

/*
 * Stops the daemon d describes, by pid only: SIGTERM, then SIGKILL after
 * MC_LTTNG_STOP_GRACE_MS, and waits until it is gone (waitpid() for a child, /proc for a
 * detached one, which init reaps). A pid whose start time no longer matches is another
 * process now: it is left alone and counts as stopped. Accepts a zeroed d (nothing to do).
 * Zeroes d's pid. Returns 0, or -1 with err set if the process would not die.
 */
int mc_lttng_daemon_stop(struct mc_lttng_daemon *d, char *err, size_t errlen);

/*
 * Records a detached daemon started by another process (pid, start time as saved from
 * its struct mc_lttng_daemon) so that mc_lttng_daemon_stop() can end it. Returns 0, or -1
 * with err set if no such process runs any more.
 */
int mc_lttng_daemon_adopt(struct mc_lttng_daemon *d, const char *what, pid_t pid,
                          unsigned long long start_time, char *err, size_t errlen);

/*
 * Creates recording session name (letters, digits, '-', '_', '.') on the session daemon this
 * process reaches. output: a network URL ("net://10.77.0.1", "net://HOST:CTRL:DATA",
 * "tcp://…" as lttng-create(1) takes) streaming to a relay daemon, or a local directory
 * (absolute path, or "file://PATH"). Returns 0, or -1 with err set (lttng_strerror()).
 */
int mc_lttng_session_create(const char *name, const char *output, char *err, size_t errlen);

/*
 * Enables the user-space tracepoints matching each pattern ("microcosm_mpi:*", "prov:event",
 * "*"), all log levels, in session name's channel (per-user buffers). patterns is
 * NULL-terminated and not empty. flush_ms: the channels' switch timer, how often partly
 * filled sub-buffers are handed to the consumer (what a crash loses at most); 0 = none, only
 * full sub-buffers (and everything at stop). Returns 0, or -1 with err naming the pattern
 * that failed.
 */
int mc_lttng_enable_ust_events(const char *name, const char *const patterns[], unsigned flush_ms,
                               char *err, size_t errlen);

/* Starts recording in session name. Returns 0, or -1 with err set. */
int mc_lttng_start(const char *name, char *err, size_t errlen);

/*
 * Stops recording in session name and waits until its data is flushed (to the relay daemon
 * for a network session), having the metadata sent whole once more first. A session already
 * stopped is not an error. Returns 0, or -1.
 */
int mc_lttng_stop(const char *name, char *err, size_t errlen);

/*
 * Destroys session name (stopping it first if needed) and waits, up to timeout_ms (< 0:
 * forever), until its trace is complete at the output. Returns 0, or -1 with err set.
 */
int mc_lttng_destroy(const char *name, int timeout_ms, char *err, size_t errlen);

/*
 * Reads CLOCK_REALTIME and CLOCK_MONOTONIC as close together as possible (the monotonic
 * value is the midpoint of two reads around the realtime one), in nanoseconds. Traces
 * timestamp with the monotonic clock; comparing realtime - monotonic across machines at
 * known instants estimates their offset. Either pointer may be NULL. Returns 0 or -1.
 */
int mc_clock_now(int64_t *realtime_ns, int64_t *monotonic_ns);

#endif
