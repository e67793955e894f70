/* commands.h — one entry point per CLI verb (cmd_<verb>.c). */
#ifndef MC_COMMANDS_H
#define MC_COMMANDS_H

struct mc_common_opts;

/* Each returns the process exit status; argv[0] is the verb. */
int cmd_up(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_rsh(int argc, char **argv);
int cmd_mpirun(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_net(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_fault(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_results(int argc, char **argv);
extern const char mc_results_usage[];
int cmd_compare(int argc, char **argv);
extern const char mc_compare_usage[];
int cmd_report(int argc, char **argv);
extern const char mc_report_usage[];
int cmd_simulate(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
extern const char mc_daemon_usage[];
extern const char mc_simulate_usage[];
extern const char mc_net_usage[], mc_image_usage[], mc_fault_usage[], mc_trace_usage[];

struct mc_exec_opts;
/* Runs an exec request and reports it (cmd_exec.c); raw = rsh's pass-through
 * of one guest's output and exit status. */
int mc_exec_session(const struct mc_exec_opts *o, int raw);

extern const char mc_template_usage[];

/* Shared by up and down: asks the controller to tear down and waits until
 * it has exited and its state dir is gone. Returns 0 or 1. */
int mc_down_cluster(const struct mc_common_opts *c, int quiet);

#endif
