#!/usr/bin/env bash
# OPTIONS responder benchmark: imsd (release build) against Kamailio
# (sl_send_reply 200), SIPp over UDP on 127.0.0.1, fixed offered rates.
# Appends a dated table (a row per rate, CPU per OPTIONS in all and split into
# user and kernel time) at the end of the bench/options section of bench/RESULTS.md.
#
#   bench/options_bench.sh                         5k, 10k, 20k /s, 10 s each
#   bench/options_bench.sh --rates 5000 --secs 5 --settle 35 --no-append   quick run
#
# Each step is bounded (SIPp -m/-timeout plus a hard deadline); every process
# is stopped by its PID. Scratch files go to a fresh /tmp/options-bench.* dir.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

if ! command -v kamailio >/dev/null || ! command -v sipp >/dev/null; then
    apt-get update -q
    apt-get install -y kamailio sip-tester
fi
kamailio -c -f "$HERE/options_kamailio.cfg" >/dev/null 2>&1 || { kamailio -c -f "$HERE/options_kamailio.cfg"; exit 1; }

# imsd in release mode, without the tests
if [ ! -f "$ROOT/build-rel/build.ninja" ]; then
    meson setup "$ROOT/build-rel" "$ROOT" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$ROOT/build-rel" imsd >/dev/null

exec python3 "$HERE/options_bench.py" --imsd "$ROOT/build-rel/imsd" "$@"
