#!/usr/bin/env bash
# Call benchmark: imsd (B2BUA + in-process media relay) vs Kamailio's stateful
# proxy (the anchor of shared/anchors/kamailio/), both in the same run, SIPp
# as the UEs, loopback only. Method and results: bench/RESULTS.md, section
# "calls — call set-up and teardown vs Kamailio (bench/calls/)".
#
#   bench/calls/run.sh            memory per live call (1,000 calls held 20 s)
#                                 on each server, then INVITE..BYE at 500,
#                                 1,000, 2,000, 3,000, 4,000 calls/s, 10 s per
#                                 step, each step on both servers back to back;
#                                 appends a dated block to bench/RESULTS.md
#                                 (about 10 minutes)
#   bench/calls/run.sh --quick    200 and 500/s, 2 s steps: checks the set-up
#                                 in about 2 minutes, RESULTS.md untouched
#   bench/calls/run.sh --servers imsd ...     only one server
#
# Other options go to callbench.py (--rates, --rounds, --secs-per-step,
# --live, --hold-ms, --relay-min/--relay-max, ...; callbench.py --help).
# Environment: WORK (scratch dir, default a new mktemp dir), KAM_PORT (15160),
# IMSD_PORT (15170; the SIPp UAC and UAS of each use PORT+1 and PORT+2), IMSD_BIN (default
# build-rel/imsd, built here as a release build if missing or stale),
# NO_APPEND=1 (do not touch RESULTS.md).
#
# Exit status: 0 both servers measured, 3 a server could not be measured (the
# reason is printed), other: error.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/callbench.XXXXXX)}
KAM_PORT=${KAM_PORT:-15160}
IMSD_PORT=${IMSD_PORT:-15170}

quick=0
for arg in "$@"; do
    case "$arg" in
    --quick) quick=1 ;;
    -h|--help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        echo
        exec /usr/bin/python3 "$HERE/callbench.py" --help ;;
    esac
done

need=()
command -v kamailio >/dev/null || need+=(kamailio)
command -v kamcmd >/dev/null || need+=(kamailio)
command -v sipp >/dev/null || need+=(sip-tester)
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}"
fi

if [ -z "${IMSD_BIN:-}" ]; then
    if [ ! -f "$ROOT/build-rel/build.ninja" ]; then
        meson setup "$ROOT/build-rel" "$ROOT" --buildtype=release -Dtests=false
    fi
    ninja -C "$ROOT/build-rel" imsd imsctl >/dev/null
    IMSD_BIN="$ROOT/build-rel/imsd"
fi

for port in "$KAM_PORT" "$((KAM_PORT + 1))" "$((KAM_PORT + 2))" \
            "$IMSD_PORT" "$((IMSD_PORT + 1))" "$((IMSD_PORT + 2))"; do
    if ss -Hlun "sport = :$port" | grep -q .; then
        echo "UDP port $port is already in use; stop that process or pick other ports" >&2
        exit 1
    fi
done
kamailio -c -f "$ROOT/bench/register/kamailio.cfg" >/dev/null 2>&1 ||
    { kamailio -c -f "$ROOT/bench/register/kamailio.cfg"; exit 1; }

append=(--results-md "$ROOT/bench/RESULTS.md")
if [ "$quick" = 1 ] || [ "${NO_APPEND:-}" = 1 ]; then
    append=()
fi

# SIPp wants more open files than calls it may keep open (-l, up to 3 x rate)
ulimit -n 131072 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$WORK"
echo "work dir: $WORK"
rc=0
# hard deadline for the whole run, on top of the per-step bounds in callbench.py
timeout -s TERM -k 30 3600 /usr/bin/python3 "$HERE/callbench.py" --workdir "$WORK" \
    --imsd-bin "$IMSD_BIN" --kam-port "$KAM_PORT" --imsd-port "$IMSD_PORT" \
    "${append[@]}" "$@" || rc=$?
echo "report: $WORK/report.md, raw data: $WORK/results.jsonl"
exit $rc
