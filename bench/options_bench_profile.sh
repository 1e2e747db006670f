#!/usr/bin/env bash
# Instruction profile of imsd's OPTIONS path: a release build with debug info
# (build-prof/) runs under valgrind's callgrind while one SIPp sends a fixed
# number of OPTIONS over UDP on 127.0.0.1. Counting starts when SIPp starts
# and stops after Timer J has ended every transaction (timer_t1 0.5 s ->
# 32 s), so the figure includes the whole life of a transaction. Instructions
# are counted, not time: the result does not depend on the machine's load.
#
#   bench/options_bench_profile.sh [count] [rate] [rport] [imsd]
#       default 5000 at 500/s; "rport" sends ;rport on the Via (the stack
#       then adds received/rport to the response); imsd: another binary
#       (e.g. an older build) instead of build-prof/imsd
#
# Prints Ir per OPTIONS and the top functions; the callgrind file stays in
# the printed work dir. Every process is stopped by its PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
COUNT=${1:-5000}
RATE=${2:-500}
SCEN="$ROOT/tests/integ/sipp/options_ping.xml"
[ "${3:-}" = rport ] && SCEN="$HERE/options_bench_rport.xml"
IMSD=${4:-$ROOT/build-prof/imsd}

command -v valgrind >/dev/null || { apt-get update -q && apt-get install -y valgrind; }
command -v sipp >/dev/null || { apt-get update -q && apt-get install -y sip-tester; }
if [ ! -f "$ROOT/build-prof/build.ninja" ]; then
	meson setup "$ROOT/build-prof" "$ROOT" --buildtype=release -Ddebug=true \
		-Dtests=false >/dev/null
fi
ninja -C "$ROOT/build-prof" imsd >/dev/null

W=$(mktemp -d /tmp/options-prof.XXXXXX)
PORT=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$W/imsd.cfg" <<EOF
{
  log_filename: "$W/imsd.log",
  log_options: "all.level=error",
  sip_addr: ["127.0.0.1:$PORT"],
  domain: "ims.test",
  timer_t1: 0.5,
}
EOF
# the monitor reads stdin: keep it open (a FIFO held by sleep) until the end
mkfifo "$W/stdin"
sleep 600 >"$W/stdin" &
HOLD=$!
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$W/cg.out" \
	"$IMSD" "$W/imsd.cfg" <"$W/stdin" >"$W/imsd.out" 2>&1 &
VG=$!
cleanup() {
	kill "$VG" 2>/dev/null || true
	kill "$HOLD" 2>/dev/null || true
}
trap cleanup EXIT

# wait (bounded) until imsd answers
for i in $(seq 1 60); do
	if sipp -sf "$ROOT/tests/integ/sipp/options_ping.xml" -t u1 -i 127.0.0.1 -p 0 \
		"127.0.0.1:$PORT" -m 1 -timeout 2s -nostdin >/dev/null 2>&1; then
		break
	fi
	sleep 1
done
callgrind_control -i on "$VG" >/dev/null
sipp -sf "$SCEN" -t u1 -i 127.0.0.1 -p 0 \
	"127.0.0.1:$PORT" -r "$RATE" -m "$COUNT" -l $((RATE * 4)) -timeout 120s \
	-nostdin -trace_stat -stf "$W/stat.csv" -fd 5 >/dev/null 2>&1 || true
sleep 36 # Timer J of the last transactions
callgrind_control -i off "$VG" >/dev/null
kill -TERM "$VG"
wait "$VG" || true
kill "$HOLD" 2>/dev/null || true
trap - EXIT

OK=$(python3 - "$W/stat.csv" <<'EOF'
import sys
lines = [l.strip() for l in open(sys.argv[1]) if l.strip()]
d = dict(zip(lines[0].split(";"), lines[-1].split(";")))
print(d.get("SuccessfulCall(C)", "0"))
EOF
)
callgrind_annotate --inclusive=no "$W/cg.out" >"$W/self.txt" 2>/dev/null
callgrind_annotate --inclusive=yes "$W/cg.out" >"$W/inclusive.txt" 2>/dev/null
TOTAL=$(awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' "$W/self.txt")
echo "work dir $W"
echo "OPTIONS answered: $OK of $COUNT"
echo "Ir total: $TOTAL  Ir per OPTIONS: $((${TOTAL:-0} / (OK > 0 ? OK : 1)))"
sed -n '/file:function/,$p' "$W/self.txt" | head -40
