#!/usr/bin/env bash
# IPsec on Gm, side by side in one run (issue 18): registrations and SMS per
# second with a UE over the SAs beside the same UE without sec-agree, one
# imsd (ipsec: true); imsd's CPU per operation (user and kernel apart), the
# CPU that ESP adds per SIP packet, and the ESP codec alone. Needs root
# (network namespaces, TUN device, raw sockets). The UE is the C one
# (bench/ipsec/ipsec_ue.c, built here); --ue python takes the scapy UE of
# the integration tests instead (python3-scapy).
#
#   bench/ipsec/run.sh               the benchmark (a minute or two): appends
#                                    a dated block to bench/RESULTS.md
#   bench/ipsec/run.sh --regs 1000   other options go to ipsecbench.py
#                                    (--regs, --sms, --block, --workdir,
#                                    --ue c|python)
#
# Environment: IMSD_BIN / IMSCTL_BIN / UE_BIN (default build-rel/, built
# here as a release build if missing), NO_APPEND=1 (do not touch RESULTS.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
for arg in "$@"; do
    case "$arg" in
    -h|--help)
        sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
        exec /usr/bin/python3 "$HERE/ipsecbench.py" --help ;;
    esac
done
need=()
command -v meson >/dev/null || need+=(meson)
command -v ninja >/dev/null || need+=(ninja-build)
case " $* " in
*" --ue python "*|*" --ue=python "*)
    /usr/bin/python3 -c "import scapy" 2>/dev/null || need+=(python3-scapy) ;;
esac
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${need[@]}"
fi
IMSD_BIN=${IMSD_BIN:-$ROOT/build-rel/imsd}
IMSCTL_BIN=${IMSCTL_BIN:-$ROOT/build-rel/imsctl}
[ -f "$ROOT/build-rel/build.ninja" ] ||
    meson setup "$ROOT/build-rel" "$ROOT" --buildtype=release -Dtests=false
targets=(bench/bench_ipsec_esp bench/bench_ipsec_ue)
[ "$IMSD_BIN" = "$ROOT/build-rel/imsd" ] && targets+=(imsd)
[ "$IMSCTL_BIN" = "$ROOT/build-rel/imsctl" ] && targets+=(imsctl)
ninja -C "$ROOT/build-rel" "${targets[@]}"
append=(--append "$ROOT/bench/RESULTS.md")
[ "${NO_APPEND:-0}" = 1 ] && append=()
exec timeout 1800 /usr/bin/python3 "$HERE/ipsecbench.py" --imsd-bin "$IMSD_BIN" \
    --imsctl-bin "$IMSCTL_BIN" --codec-bin "$ROOT/build-rel/bench/bench_ipsec_esp" \
    --ue-bin "${UE_BIN:-$ROOT/build-rel/bench/bench_ipsec_ue}" \
    "${append[@]}" "$@"
