#!/usr/bin/env bash
# Registration benchmark: imsd (IMS-AKA, built-in HSS) vs Kamailio (MD5 digest),
# both up in the same run, SIPp as the UEs, loopback only.
#
#   bench/register/run.sh              the benchmark: 100,000 users per server,
#                                      memory phase of each, then 3 rounds of the
#                                      rate steps (2k/5k/10k per s from one SIPp,
#                                      10k/20k/30k from two), each step on both
#                                      servers back to back, the order alternating
#                                      per round; appends a dated block to
#                                      bench/RESULTS.md (about 20 minutes on 2 cores)
#   bench/register/run.sh --quick      smoke run: 2,000 users at 1,000/s, 2 rounds,
#                                      under a minute, nothing appended to RESULTS.md
#   bench/register/run.sh --self-test  the harness checked without imsd: the AKA
#                                      side runs against selftest_aka.py (a
#                                      stand-in registrar using imsctl's Milenage)
#   bench/register/run.sh --servers imsd ...   only one server
#   IMSD_BIN=A bench/register/run.sh --imsd-b B   A/B of two imsd builds in one
#                                      run (imsd, imsd-b: the same steps and
#                                      rounds, ratios B/A, user and kernel
#                                      time apart); --state-file: every imsd
#                                      with its state file on (README.md)
#
# Other options go to regbench.py (--rates, --dual-rates, --rounds, --users,
# --mem-rate, --secs-per-step, --imsd-t1, --budget-s, ...; see regbench.py --help).
# Environment: WORK (scratch dir, default a new mktemp dir), KAM_PORT (15060),
# IMSD_PORT (15070), IMSD_BIN (default build-rel/imsd, built here as a release
# build if missing or stale), NO_APPEND=1 (do not touch RESULTS.md).
#
# Exit status: 0 both servers measured, 3 a server could not be measured (the
# reason is printed, e.g. "imsd does not handle REGISTER yet"), other: error.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/regbench.XXXXXX)}
KAM_PORT=${KAM_PORT:-15060}
IMSD_PORT=${IMSD_PORT:-15070}

quick=0
selftest=0
for arg in "$@"; do
    case "$arg" in
    --quick) quick=1 ;;
    --self-test) selftest=1 ;;
    -h|--help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        echo
        exec /usr/bin/python3 "$HERE/regbench.py" --help ;;
    esac
done

need=()
command -v kamailio >/dev/null || need+=(kamailio)
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

for port in "$KAM_PORT" "$IMSD_PORT" 25161 25162; do
    if ss -Hlun "sport = :$port" | grep -q .; then
        echo "UDP port $port is already in use; stop that process or pick other ports" >&2
        exit 1
    fi
done
kamailio -c -f "$HERE/kamailio.cfg" >/dev/null 2>&1 || { kamailio -c -f "$HERE/kamailio.cfg"; exit 1; }

append=(--results-md "$ROOT/bench/RESULTS.md")
if [ "$quick" = 1 ] || [ "$selftest" = 1 ] || [ "${NO_APPEND:-}" = 1 ]; then
    append=()
fi

# SIPp wants more open files than calls it may keep open (-l, up to 3 x rate)
ulimit -n 131072 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
mkdir -p "$WORK"
echo "work dir: $WORK"
rc=0
# hard deadline for the whole run, on top of the per-step bounds in regbench.py
timeout -s TERM -k 30 3600 /usr/bin/python3 "$HERE/regbench.py" --workdir "$WORK" \
    --imsd-bin "$IMSD_BIN" --kam-port "$KAM_PORT" --imsd-port "$IMSD_PORT" \
    "${append[@]}" "$@" || rc=$?
echo "report: $WORK/report.md, raw data: $WORK/results.jsonl"
exit $rc
