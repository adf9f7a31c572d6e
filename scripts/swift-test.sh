#!/usr/bin/env bash
# Build and test the Swift package `ios-bench/` on Linux, in the Swift 6 chroot made by
# scripts/setup-swift.sh. The repository's `ios-bench/` and `fixtures/` are bind-mounted into the
# chroot (at /scenebench/...), `swift build` + `swift test` run there, then the Apple-only code is
# type-checked against stand-in SDK modules (ios-bench/AppleStubs/); mounts are undone on exit,
# and the exit code of the first failing step is returned. Extra arguments go to `swift test`.
#
# Environment:
#   SCENEBENCH_SWIFT_CHROOT  chroot directory (default /var/cache/scenebench/swift-trixie)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHROOT="${SCENEBENCH_SWIFT_CHROOT:-/var/cache/scenebench/swift-trixie}"
export SCENEBENCH_SWIFT_CHROOT="$CHROOT"

"$ROOT/scripts/setup-swift.sh"

MNT="$CHROOT/scenebench"
mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM

mount_once() { # mount_once SRC DST [bind]
    mkdir -p "$2"
    if mountpoint -q "$2"; then umount "$2" || umount -l "$2"; fi
    if [[ "${3:-}" == bind ]]; then mount --bind "$1" "$2"; else mount -t proc proc "$2"; fi
    mounted+=("$2")
}

mount_once proc "$CHROOT/proc"
mount_once "$ROOT/ios-bench" "$MNT/ios-bench" bind
mount_once "$ROOT/fixtures" "$MNT/fixtures" bind

in_chroot() {
    chroot "$CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 UPDATE_GOLDEN="${UPDATE_GOLDEN:-}" \
        SCENEBENCH_GOLDEN_DIR=/scenebench/fixtures/golden \
        bash -c "cd /scenebench/ios-bench && $1"
}

status=0
in_chroot "swift build 2>&1" || status=$?
if [[ $status == 0 ]]; then
    # Keep swift test's output (including its summary lines) and its exit code.
    in_chroot "swift test $* 2>&1" || status=$?
fi
if [[ $status == 0 ]]; then
    # The CoreML / ImageIO / CoreVideo code cannot be built here; type-check it against
    # stand-in declarations of those frameworks (ios-bench/AppleStubs/).
    in_chroot "bash AppleStubs/typecheck.sh 2>&1" || status=$?
fi
if [[ $status == 0 ]]; then
    echo "swift-test.sh: ios-bench build and tests passed"
else
    echo "swift-test.sh: FAILED (exit $status)" >&2
fi
exit $status
