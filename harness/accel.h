/* accel.h — choosing the accelerator (KVM or TCG) by a real probe boot, and the kernel command line
 * for it. */
#ifndef MC_ACCEL_H
#define MC_ACCEL_H

#include <stddef.h>
#include <stdint.h>

#include "assets.h"

/*
 * Writes the guest kernel command line for accel ("kvm" or "tcg") into buf.
 * Under TCG it adds what DESIGN.md found necessary: lapic=notscdeadline
 * (random LAPIC timer hangs), tsc_early_khz=<host TSC> (PIT calibration
 * fails under load), tsc=reliable (no clocksource watchdog), lpj (no delay
 * calibration). tsc_khz 0 omits tsc_early_khz. Returns 0 or -ENOSPC.
 */
int mc_accel_cmdline(const char *accel, uint64_t tsc_khz, char *buf, size_t cap);

/*
 * Boots kernel+initrd once under accel with a probe identity and waits up
 * to timeout_ms for the agent's ready line on the serial console. Returns 0
 * when the agent was reached, -ETIMEDOUT, or another negative errno. Kills
 * and reaps its QEMU in every case; leaves no file behind.
 */
int mc_accel_probe(const char *accel, const char *qemu, const char *machine, const char *kernel,
                   const char *initrd, int timeout_ms);

/*
 * Resolves want ("auto", "kvm" or "tcg") to "kvm" or "tcg" in out (8 bytes).
 * "auto" uses KVM only if /dev/kvm opens and a probe boot reaches the agent;
 * the result is cached in <cache_dir>/accel.probe per asset set and host
 * kernel. An explicit "kvm" without a usable /dev/kvm is an error. why
 * receives a one-line explanation. Returns 0 or a negative errno.
 */
int mc_accel_choose(const char *want, const char *qemu, const struct mc_assets *a,
                    const char *cache_dir, char out[8], char *why, size_t whylen);

#endif
