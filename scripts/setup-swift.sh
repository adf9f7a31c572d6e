#!/usr/bin/env bash
# Provision a Swift 6 toolchain for Linux (Debian 12 hosts) in a Debian 13 chroot.
#
# Debian 12 packages no Swift toolchain. Debian 13 ("trixie") packages Swift 6.0.3 as `swiftlang`,
# which needs a newer glibc than the host's, so it lives in a minbase chroot built with debootstrap
# from the distribution's default mirror. Idempotent: a stamp file inside the chroot makes re-runs
# instant. Needs root (debootstrap, chroot).
#
# Environment:
#   SCENEBENCH_SWIFT_CHROOT  chroot directory (default /var/cache/scenebench/swift-trixie)
set -euo pipefail

CHROOT="${SCENEBENCH_SWIFT_CHROOT:-/var/cache/scenebench/swift-trixie}"
STAMP="$CHROOT/.scenebench-swift-ready"
PACKAGES=(swiftlang libc6-dev libstdc++-14-dev)

if [[ -f "$STAMP" ]]; then
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    echo "setup-swift.sh: needs root (debootstrap + chroot)" >&2
    exit 1
fi

log() { echo "setup-swift.sh: $*" >&2; }

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

mkdir -p "$(dirname "$CHROOT")"
if [[ ! -x "$CHROOT/usr/bin/apt-get" || ! -f "$CHROOT/.scenebench-debootstrap-done" ]]; then
    log "debootstrap trixie into $CHROOT (minbase)"
    rm -rf "$CHROOT"
    debootstrap --variant=minbase trixie "$CHROOT" >&2
    touch "$CHROOT/.scenebench-debootstrap-done"
fi

# apt inside the chroot wants /proc; mount it for the install and unmount afterwards.
mounted_proc=0
cleanup() {
    if [[ $mounted_proc == 1 ]]; then umount "$CHROOT/proc" || true; fi
}
trap cleanup EXIT
if ! mountpoint -q "$CHROOT/proc"; then
    mount -t proc proc "$CHROOT/proc"
    mounted_proc=1
fi
cp -L /etc/resolv.conf "$CHROOT/etc/resolv.conf" 2>/dev/null || true

log "installing ${PACKAGES[*]} in the chroot (about 530 MB)"
chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    apt-get update -qq >&2
chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin apt-get clean

chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root swift --version >&2
touch "$STAMP"
log "ready: $CHROOT"
