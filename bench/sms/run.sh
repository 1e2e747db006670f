#!/usr/bin/env bash
# SMS over IP benchmark: MO -> MT SMS per second through imsd between pairs
# of phones (bench/sms/smsload, in C, plays them; smsbench.py registers them
# and drives the steps), imsd's CPU per delivered SMS (user and kernel apart)
# beside a registration's, loss, memory per pending SMS; imsd without and
# with its state file. Loopback only.
#
#   bench/sms/run.sh                 the benchmark (about 15 minutes): appends a
#                                    dated block to bench/RESULTS.md
#   bench/sms/run.sh --rates 5000    other options go to smsbench.py
#                                    (--pairs, --rates, --secs, --pending,
#                                    --servers imsd|imsd-state, --workdir,
#                                    --phones c|python)
#
# Environment: IMSD_BIN (default build-rel/imsd, built here as a release build
# if missing), NO_APPEND=1 (do not touch RESULTS.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
for arg in "$@"; do
    case "$arg" in
    -h|--help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        exec /usr/bin/python3 "$HERE/smsbench.py" --help ;;
    esac
done
need=()
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${need[@]}"
fi
IMSD_BIN=${IMSD_BIN:-$ROOT/build-rel/imsd}
[ -f "$ROOT/build-rel/build.ninja" ] ||
    meson setup "$ROOT/build-rel" "$ROOT" --buildtype=release -Dtests=false
# the C phones (bench/sms/smsload.c) always; imsd when it is this build's
targets=(bench/smsload)
[ "$IMSD_BIN" = "$ROOT/build-rel/imsd" ] && targets+=(imsd)
ninja -C "$ROOT/build-rel" "${targets[@]}"
append=(--append "$ROOT/bench/RESULTS.md")
[ "${NO_APPEND:-0}" = 1 ] && append=()
exec timeout 1800 /usr/bin/python3 "$HERE/smsbench.py" --imsd-bin "$IMSD_BIN" \
    --smsload "$ROOT/build-rel/bench/smsload" "${append[@]}" "$@"
