#!/bin/sh
# /etc/microcosm/init.sh — early-boot hook run by mc-agent (PID 1) after it has
# mounted /proc /sys /dev and before it reads its identity or configures the
# network.
#
# Loads the drivers a modular kernel (Debian's cloud kernel, the fallback) lacks
# built in, in dependency order, from /lib/modules/$(uname -r)/microcosm.order
# (lines "module_name relative/path.ko", written by guests/rootfs/build.sh).
# A module loaded after boot does not see its "module.param=value" options from
# the kernel command line (virtio_mmio.device=…, qemu_fw_cfg.ioport=…), so they
# are taken from /proc/cmdline and passed to insmod. The project kernel has
# everything built in and no such directory: then this returns at once.
# shellcheck disable=SC2013,SC3060 # busybox ash: ${var//a/b} is supported
moddir=/lib/modules/$(uname -r)
[ -f "$moddir/microcosm.order" ] || exit 0
set -f # no globbing of command-line tokens

# Module names treat '-' and '_' alike: normalise the "module." prefix of each
# command-line token once.
opts=
for tok in $(cat /proc/cmdline); do
	case $tok in
	*.*=*)
		mod=${tok%%.*}
		opts="$opts ${mod//-/_}.${tok#*.}"
		;;
	esac
done

rc=0
while read -r name path; do
	case $name in '' | '#'*) continue ;; esac
	params=
	for tok in $opts; do
		case $tok in "$name".*) params="$params ${tok#"$name".}" ;; esac
	done
	# Word splitting of $params is intended: one argument per option.
	# shellcheck disable=SC2086
	if ! insmod "$moddir/$path" $params; then
		echo "init.sh: insmod $name failed" >&2
		rc=1
	fi
done <"$moddir/microcosm.order"
exit $rc
