#!/usr/bin/env bash
# guests/kernel/build.sh — build (or reuse) the microcosm guest kernel (vmlinux).
#
# Usage: guests/kernel/build.sh [--print-path] [--print-info] [--force]
#
#   Builds vmlinux from Debian's linux-source-6.1 with config.fragment merged
#   onto `make tinyconfig`, cached under
#     ${MC_CACHE_DIR:-/var/cache/microcosm}/kernel/<hash>/{vmlinux,config,kernel.info}
#   where <hash> = sha256(config.fragment, this script, linux-source version).
#   If the build is impossible (no linux-source, compile failure) it falls back
#   to Debian's cloud kernel (/boot/vmlinuz-*-cloud-amd64) and records that in
#   kernel.info (kind=debian-cloud, fallback_reason=…); --force retries.
#
#   --print-path  print the kernel image to boot (vmlinux or the fallback) on stdout
#   --print-info  print the path of kernel.info on stdout
#   --force       rebuild even if the cache has a result for these inputs
#
# Progress goes to stderr. Environment: MC_CACHE_DIR, MC_LINUX_SOURCE (tarball,
# default /usr/src/linux-source-6.1.tar.xz), MC_JOBS (default: nproc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
fragment=$here/config.fragment
src_pkg=linux-source-6.1
src_tar=${MC_LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
cache_root=${MC_CACHE_DIR:-/var/cache/microcosm}/kernel
jobs=${MC_JOBS:-$(nproc)}

# Options the guest cannot work without (DESIGN.md, "Facts measured"). Every
# CONFIG_…=y / "is not set" line of config.fragment is checked too; these are
# checked even if someone deletes them from the fragment.
required_on=(
	CONFIG_64BIT CONFIG_PVH CONFIG_PARAVIRT CONFIG_KVM_GUEST CONFIG_SMP
	CONFIG_NO_HZ_IDLE CONFIG_HZ_100 CONFIG_CC_OPTIMIZE_FOR_PERFORMANCE
	CONFIG_PRINTK CONFIG_TTY CONFIG_SERIAL_8250 CONFIG_SERIAL_8250_CONSOLE
	CONFIG_VIRTIO_MMIO CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES
	CONFIG_VIRTIO_NET CONFIG_VIRTIO_BLK CONFIG_VIRTIO_CONSOLE CONFIG_HW_RANDOM_VIRTIO
	CONFIG_FW_CFG_SYSFS CONFIG_FW_CFG_SYSFS_CMDLINE
	CONFIG_DEVTMPFS CONFIG_TMPFS CONFIG_SHMEM CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP
	CONFIG_BINFMT_ELF CONFIG_BINFMT_SCRIPT CONFIG_PROC_FS CONFIG_SYSFS
	CONFIG_SYSVIPC CONFIG_POSIX_MQUEUE CONFIG_FUTEX CONFIG_EPOLL CONFIG_EVENTFD
	CONFIG_TIMERFD CONFIG_SIGNALFD CONFIG_MULTIUSER
	CONFIG_EXT4_FS CONFIG_EROFS_FS CONFIG_OVERLAY_FS
	CONFIG_NET CONFIG_INET CONFIG_UNIX CONFIG_PACKET
	CONFIG_NET_SCHED CONFIG_NET_SCH_NETEM CONFIG_NET_SCH_TBF CONFIG_NET_SCH_HTB
	CONFIG_NET_SCH_INGRESS CONFIG_NET_9P CONFIG_NET_9P_VIRTIO CONFIG_9P_FS
	CONFIG_RANDOM_TRUST_CPU
)
required_off=(
	CONFIG_MODULES CONFIG_ACPI CONFIG_VT CONFIG_INPUT CONFIG_HID CONFIG_IPV6
	CONFIG_CPU_FREQ CONFIG_CC_OPTIMIZE_FOR_SIZE
)

print_path=0
print_info=0
force=0
for arg in "$@"; do
	case $arg in
	--print-path) print_path=1 ;;
	--print-info) print_info=1 ;;
	--force) force=1 ;;
	-h | --help)
		sed -n '2,20s/^# \{0,1\}//p' "$self"
		exit 0
		;;
	*)
		echo "kernel: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

log() { printf 'kernel: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

src_version=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null || true)
[[ -n $src_version ]] || src_version=none
hash=$({
	sha256sum <"$fragment"
	sha256sum <"$self"
	printf '%s=%s\n' "$src_pkg" "$src_version"
	stat -c '%n %s %Y' "$src_tar" 2>/dev/null || printf '%s missing\n' "$src_tar"
} | sha256sum | cut -c1-16)
out=$cache_root/$hash

emit() {
	# Print what the caller asked for about the result in $out.
	local image
	image=$(sed -n 's/^image=//p' "$out/kernel.info")
	((print_path)) && printf '%s\n' "$image"
	((print_info)) && printf '%s\n' "$out/kernel.info"
	return 0
}

describe() {
	local kind release reason image
	kind=$(sed -n 's/^kind=//p' "$out/kernel.info")
	release=$(sed -n 's/^release=//p' "$out/kernel.info")
	image=$(sed -n 's/^image=//p' "$out/kernel.info")
	reason=$(sed -n 's/^fallback_reason=//p' "$out/kernel.info")
	if [[ $kind == project ]]; then
		log "using project kernel $release: $image"
	else
		log "WARNING: using FALLBACK Debian cloud kernel $release: $image"
		log "         reason: $reason (guests boot ≈2× slower; --force retries the build)"
	fi
}

mkdir -p "$cache_root"
# One builder per cache: a second caller waits, then finds the result cached.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
	log "another build holds $cache_root/.lock; waiting…"
	flock 9
fi

if ((!force)) && [[ -f $out/kernel.info ]] &&
	{ [[ -f $out/vmlinux ]] || grep -qx 'kind=debian-cloud' "$out/kernel.info"; }; then
	if [[ -f $out/vmlinux ]]; then
		log "cached $out/vmlinux"
	else
		log "cached fallback result in $out"
	fi
	describe
	emit
	exit 0
fi

tmp=
make_pid=
cleanup() {
	local rc=$?
	if [[ -n $make_pid ]] && kill -0 "$make_pid" 2>/dev/null; then
		kill -TERM -- "-$make_pid" 2>/dev/null || true
		wait "$make_pid" 2>/dev/null || true
	fi
	[[ -n $tmp && -d $tmp ]] && rm -rf -- "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

tmp=$(mktemp -d "$cache_root/.build-$hash.XXXXXX")
mkdir "$tmp/out"

write_info() { # kind release build_seconds image [fallback_reason]
	{
		printf 'kind=%s\n' "$1"
		printf 'release=%s\n' "$2"
		printf 'build_seconds=%s\n' "$3"
		printf 'config_hash=%s\n' "$hash"
		printf 'image=%s\n' "$4"
		printf 'source_package=%s=%s\n' "$src_pkg" "$src_version"
		[[ -z ${5:-} ]] || printf 'fallback_reason=%s\n' "$5"
	} >"$tmp/out/kernel.info"
}

commit() {
	# Replace $out by the finished $tmp/out in one rename (no half results).
	if [[ -e $out ]]; then
		rm -rf -- "$out.old"
		mv -- "$out" "$out.old"
	fi
	mv -- "$tmp/out" "$out"
	rm -rf -- "$out.old"
}

fallback() { # reason
	local reason=$1 cloud release
	log "cannot build the project kernel: $reason"
	cloud=$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1 || true)
	[[ -n $cloud ]] || die "no fallback either: no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64)"
	release=${cloud#/boot/vmlinuz-}
	[[ -d /lib/modules/$release ]] ||
		log "warning: /lib/modules/$release missing: guests will lack virtio drivers"
	write_info debian-cloud "$release" 0 "$cloud" "$reason"
	# Keep the end of a failed build's log next to the result.
	for f in config.log build.log; do
		[[ ! -s $tmp/$f ]] || tail -n 200 "$tmp/$f" >"$tmp/out/$f"
	done
	commit
	describe
	emit
	exit 0
}

check_config() { # .config
	local cfg=$1 bad=0 line opt
	for opt in "${required_on[@]}"; do
		grep -qx "$opt=y" "$cfg" || { log "required option missing: $opt=y"; bad=1; }
	done
	for opt in "${required_off[@]}"; do
		if grep -q "^$opt=" "$cfg"; then log "option must be off: $opt"; bad=1; fi
	done
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$cfg" || {
				log "fragment line not in final .config: $line (now: $(grep -E "^${line%%=*}=|^# ${line%%=*} is not set" "$cfg" || echo absent))"
				bad=1
			}
			;;
		'# CONFIG_'*' is not set')
			opt=${line#\# }
			opt=${opt%% *}
			if grep -q "^$opt=" "$cfg"; then log "fragment turns off $opt but it is on (selected by another option)"; bad=1; fi
			;;
		esac
	done <"$fragment"
	return "$bad"
}

[[ $src_version != none ]] || fallback "package $src_pkg is not installed"
[[ -r $src_tar ]] || fallback "$src_tar not readable"

t0=$(date +%s)
log "extracting $src_tar ($src_pkg $src_version)…"
mkdir "$tmp/src"
tar -xJf "$src_tar" -C "$tmp/src" --strip-components=1 ||
	fallback "cannot extract $src_tar"
cd "$tmp/src"

log "configuring (tinyconfig + $(basename "$fragment"))…"
{
	make tinyconfig &&
		scripts/kconfig/merge_config.sh -m .config "$fragment" &&
		make olddefconfig
} >"$tmp/config.log" 2>&1 || {
	tail -n 20 "$tmp/config.log" >&2
	fallback "kernel configuration failed"
}
# A config that lacks what the guests need is a bug in the fragment, not a
# reason to fall back: fail loudly.
check_config .config || die "configuration check failed (see above); fix $fragment"

log "building vmlinux with $jobs jobs (≈5 min on 2 cores)…"
# Own process group (setsid), so cleanup can stop make and all its compilers.
setsid make -j"$jobs" vmlinux >"$tmp/build.log" 2>&1 &
make_pid=$!
next=$((t0 + 30))
while kill -0 "$make_pid" 2>/dev/null; do
	sleep 2
	now=$(date +%s)
	if ((now >= next)); then
		log "  … $((now - t0)) s, $(grep -c '^  CC ' "$tmp/build.log" || true) files compiled"
		next=$((now + 30))
	fi
done
if wait "$make_pid"; then
	make_pid=
else
	make_pid=
	tail -n 30 "$tmp/build.log" >&2
	fallback "compile failure (make vmlinux failed)"
fi

release=$(make -s kernelrelease)
cp vmlinux "$tmp/out/vmlinux"
cp .config "$tmp/out/config"
t1=$(date +%s)
write_info project "$release" "$((t1 - t0))" "$out/vmlinux"
cd /
rm -rf -- "$tmp/src"
commit
log "built $release in $((t1 - t0)) s: $out/vmlinux ($(du -h "$out/vmlinux" | cut -f1))"
describe
emit
