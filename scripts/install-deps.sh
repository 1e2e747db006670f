#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing imsd need.
# Idempotent: installs only what is missing; does nothing when all is present.
set -euo pipefail

pkgs=(
  # build
  gcc make meson ninja-build pkg-config
  libssl-dev libjansson-dev libedit-dev libsqlite3-dev libwslay-dev
  # tests
  libcmocka-dev python3 python3-pytest sip-tester tshark cppcheck clang-tidy pyflakes3
  python3-websockets node-ws python3-scapy baresip
  # fuzzing (libFuzzer) and sanitizer runtimes
  clang libclang-rt-14-dev
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo 'wireshark-common wireshark-common/install-setuid boolean false' | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
