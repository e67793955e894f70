#!/usr/bin/env bash
# guests/build-assets.sh — build (or reuse) every guest asset and describe them.
#
# Usage: guests/build-assets.sh [--force] [--payload DIR] AGENT_BINARY
#
#   Runs guests/kernel/build.sh and guests/rootfs/build.sh (both cached), then
#   writes ${MC_CACHE_DIR:-/var/cache/microcosm}/assets.env, key=value lines
#   the controller reads:
#     MC_KERNEL                kernel image to boot (project vmlinux, or the
#                              Debian cloud kernel if the build was impossible)
#     MC_KERNEL_KIND           project | debian-cloud
#     MC_KERNEL_RELEASE        its `uname -r`
#     MC_KERNEL_BUILD_SECONDS  how long the kernel build took (0: fallback)
#     MC_KERNEL_MACHINE        -M value it needs: microvm,acpi=off (project:
#                              devices come on the command line) or
#                              microvm,acpi=on (cloud: devices come in ACPI)
#     MC_CLOUD_KERNEL          Debian's cloud kernel, always (for comparisons)
#     MC_CLOUD_KERNEL_MACHINE  microvm,acpi=on
#     MC_INITRD                initramfs.cpio.gz
#     MC_BASE_IMAGE            read-only base.qcow2
#     MC_ASSETS_HASH           <kernel hash>-<rootfs hash>
#   --force is passed to both builders; --payload DIR (the workloads to
#   install in the base disk) to the rootfs builder.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MC_CACHE_DIR:-/var/cache/microcosm}
force=()
payload=()
agent=
while (($#)); do
	arg=$1
	shift
	case $arg in
	--force) force=(--force) ;;
	--payload)
		(($#)) || { echo "assets: --payload needs a directory" >&2; exit 2; }
		payload=(--payload "$1")
		shift
		;;
	-h | --help)
		sed -n '2,25s/^# \{0,1\}//p' "$here/$(basename "${BASH_SOURCE[0]}")"
		exit 0
		;;
	-*)
		echo "assets: unknown option: $arg (try --help)" >&2
		exit 2
		;;
	*) agent=$arg ;;
	esac
done
log() { printf 'assets: %s\n' "$*" >&2; }
[[ -n $agent ]] || { log "usage: $0 [--force] AGENT_BINARY"; exit 2; }

kernel_info=$("$here/kernel/build.sh" --print-info ${force[@]+"${force[@]}"})
rootfs_info=$("$here/rootfs/build.sh" --print-info ${force[@]+"${force[@]}"} ${payload[@]+"${payload[@]}"} "$agent")

get() { # file key
	sed -n "s/^$2=//p" "$1" | head -n1
}

kind=$(get "$kernel_info" kind)
kernel=$(get "$kernel_info" image)
[[ -r $kernel ]] || { log "error: kernel image $kernel missing"; exit 1; }
case $kind in
project) machine=microvm,acpi=off ;;
*) machine=microvm,acpi=on ;;
esac
cloud=$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1 || true)
[[ -n $cloud ]] || log "warning: no /boot/vmlinuz-*-cloud-amd64 (install linux-image-cloud-amd64): MC_CLOUD_KERNEL empty"

env_file=$cache/assets.env
tmp=$(mktemp "$env_file.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
{
	printf '# written by guests/build-assets.sh on %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf 'MC_KERNEL=%s\n' "$kernel"
	printf 'MC_KERNEL_KIND=%s\n' "$kind"
	printf 'MC_KERNEL_RELEASE=%s\n' "$(get "$kernel_info" release)"
	printf 'MC_KERNEL_BUILD_SECONDS=%s\n' "$(get "$kernel_info" build_seconds)"
	printf 'MC_KERNEL_MACHINE=%s\n' "$machine"
	printf 'MC_CLOUD_KERNEL=%s\n' "$cloud"
	printf 'MC_CLOUD_KERNEL_MACHINE=%s\n' microvm,acpi=on
	printf 'MC_INITRD=%s\n' "$(get "$rootfs_info" initramfs)"
	printf 'MC_BASE_IMAGE=%s\n' "$(get "$rootfs_info" base_image)"
	printf 'MC_ASSETS_HASH=%s-%s\n' "$(get "$kernel_info" config_hash)" "$(get "$rootfs_info" rootfs_hash)"
} >"$tmp"
chmod 0644 "$tmp"
mv -f -- "$tmp" "$env_file"
trap - EXIT
log "wrote $env_file"
if [[ $kind == project ]]; then
	log "kernel: project $(get "$kernel_info" release) ($kernel)"
else
	log "kernel: FALLBACK debian-cloud $(get "$kernel_info" release) ($kernel): $(get "$kernel_info" fallback_reason)"
fi
