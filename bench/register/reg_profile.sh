#!/usr/bin/env bash
# Instruction profile of imsd's IMS-AKA registration path: build-prof/imsd
# (release + debug info) runs under valgrind's callgrind with 1,000 Milenage
# users (the configuration regbench.py generates), one SIPp runs
# reg_aka_uac.xml (REGISTER -> 401 -> REGISTER -> 200) at a low rate.
# Counting starts when SIPp starts and stops after Timer J of the last
# transactions (timer_t1 0.5 s -> 32 s), so it includes each transaction's
# whole life. Instructions, not time: independent of the machine's load.
#
#   bench/register/reg_profile.sh [count] [rate] [imsd]
#       default 500 at 200/s; imsd: another binary instead of build-prof/imsd
#
# Prints Ir per registration and the top functions; the callgrind file stays
# in the printed work dir. Every process is stopped by its PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$(dirname "$HERE")")
COUNT=${1:-500}
RATE=${2:-200}
IMSD=${3:-$ROOT/build-prof/imsd}

command -v valgrind >/dev/null || { apt-get update -q && apt-get install -y valgrind; }
if [ ! -f "$ROOT/build-prof/build.ninja" ]; then
	meson setup "$ROOT/build-prof" "$ROOT" --buildtype=debugoptimized -Dtests=false >/dev/null
fi
ninja -C "$ROOT/build-prof" imsd >/dev/null

W=$(mktemp -d /tmp/reg-prof.XXXXXX)
PORT=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
SPORT=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# the configuration and the users file exactly as regbench.py writes them
HERE="$HERE" python3 - "$W" "$PORT" <<'PYEOF'
import os, sys
sys.path.insert(0, os.environ["HERE"])
import regbench as rb
w, port = sys.argv[1], int(sys.argv[2])
s = rb.Imsd(port, w, os.path.join(rb.ROOT, "build-prof", "imsd"), 1000, 0.5)
s.write_config()
rb.write_users(w, s, 1000)
PYEOF
sed -i "s|\"imsd.log\"|\"$W/imsd.log\"|" "$W/imsd.cfg"

mkfifo "$W/stdin"
sleep 900 >"$W/stdin" &
HOLD=$!
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$W/cg.out" \
	"$IMSD" "$W/imsd.cfg" <"$W/stdin" >"$W/imsd.out" 2>&1 &
VG=$!
cleanup() {
	kill "$VG" 2>/dev/null || true
	kill "$HOLD" 2>/dev/null || true
}
trap cleanup EXIT

SIPP=(sipp 127.0.0.1:$PORT -sf "$HERE/reg_aka_uac.xml" -inf "$W/users_imsd_all.csv"
	-i 127.0.0.1 -p $SPORT -auth_uri ims.test -nostdin -recv_timeout 5000)
for i in $(seq 1 90); do
	if "${SIPP[@]}" -m 1 -timeout 3s >/dev/null 2>&1; then
		break
	fi
	sleep 1
done
callgrind_control -i on "$VG" >/dev/null
"${SIPP[@]}" -r "$RATE" -m "$COUNT" -l $((RATE * 4)) -timeout 120s \
	-trace_stat -stf "$W/stat.csv" -fd 5 >/dev/null 2>&1 || true
sleep 36 # Timer J of the last transactions
callgrind_control -i off "$VG" >/dev/null
kill -TERM "$VG"
wait "$VG" || true
kill "$HOLD" 2>/dev/null || true
trap - EXIT

OK=$(python3 - "$W/stat.csv" <<'PYEOF'
import sys
lines = [l.strip() for l in open(sys.argv[1]) if l.strip()]
d = dict(zip(lines[0].split(";"), lines[-1].split(";")))
print(d.get("SuccessfulCall(C)", "0"))
PYEOF
)
# whole outputs to files: a reader that stops early would fail the pipe (pipefail)
callgrind_annotate --inclusive=yes "$W/cg.out" >"$W/incl.txt" 2>/dev/null || true
callgrind_annotate "$W/cg.out" >"$W/self.txt" 2>/dev/null || true
TOTAL=$(awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}' "$W/self.txt")
echo "work dir: $W"
echo "successful registrations: $OK, Ir total: $TOTAL, Ir per registration: $((TOTAL / (OK > 0 ? OK : 1)))"
grep -E '^ *[0-9,]+ \(' "$W/incl.txt" | sed -n '2,41p' | sed 's|/[^ ]*/src/|src/|; s| \[.*||' 
