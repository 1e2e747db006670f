#!/usr/bin/env bash
# RTP relay benchmark: imsd's relay (the media/ code in a process of its own,
# bench/media/media_relay_bench) against rtpengine (Debian rtpengine-daemon,
# userspace forwarding, ng protocol), same generator, loopback only.
#
#   bench/media/run.sh            1,000 and 5,000 calls, 2 streams each, 50 pkt/s,
#                                 160-byte payload, 20 s per step; appends a dated
#                                 block to bench/RESULTS.md
#   bench/media/run.sh --quick    100 calls, 5 s, nothing appended
#   other options go to mediabench.py (--calls, --secs, --pps, --servers ...)
#
# Environment: WORK (scratch dir), NO_APPEND=1 (do not touch RESULTS.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/mediabench.XXXXXX)}

need=()
command -v rtpengine >/dev/null || need+=(rtpengine-daemon)
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}"
fi
if [ ! -f "$ROOT/build-rel/build.ninja" ]; then
    meson setup "$ROOT/build-rel" "$ROOT" --buildtype=release -Dtests=false
fi
ninja -C "$ROOT/build-rel" bench/media/media_relay_bench bench/media/media_rtpgen >/dev/null
# 5,000 calls: 20,000 relay sockets + 10,000 UE sockets (root may raise
# the hard limit; others get what they have)
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

args=(--bindir "$ROOT/build-rel" --work "$WORK")
if [ "${1:-}" = "--quick" ]; then
    shift
    args+=(--calls 100 --secs 5)
elif [ -z "${NO_APPEND:-}" ]; then
    args+=(--results "$ROOT/bench/RESULTS.md")
fi
exec /usr/bin/python3 "$HERE/mediabench.py" "${args[@]}" "$@"
