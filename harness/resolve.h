/* resolve.h — from parsed options to a resolved guest configuration, shared by `up` and `template`.
 */
#ifndef MC_RESOLVE_H
#define MC_RESOLVE_H

#include <stddef.h>

#include "cli.h"
#include "controller.h"
#include "template.h"

/*
 * Fills the guest part of cfg from o: emulator path, guest assets, the
 * accelerator (a probe boot may run), kernel and machine type, kernel
 * command line, memory, vCPUs, TB size, spawn mode. Does not touch the
 * cluster part (name, state dir, N). Returns 0, or a negative errno with a
 * message in err.
 */
int mc_up_resolve(const struct mc_up_opts *o, struct mc_ctl_config *cfg, char *err, size_t errlen);

/* Looks prog up in $PATH; writes the first executable match to out. 0 or -ENOENT. */
int mc_find_in_path(const char *prog, char *out, size_t cap);

/* The template spec matching a resolved cfg. Borrows cfg's strings. */
void mc_up_template_spec(const struct mc_ctl_config *cfg, struct mc_template_spec *ts);

#endif
