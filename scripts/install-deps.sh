#!/usr/bin/env bash
# Installs what chitieu needs on Debian 12 (as root), skipping what is present.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
set -euo pipefail
pkgs=(build-essential cmake pkg-config libzmq3-dev libmsgpack-dev liblmdb-dev libsodium-dev
      libinih-dev libcsv-dev libmicrohttpd-dev libsystemd-dev scdoc
      libxlsxwriter-dev libcurl4-gnutls-dev libjson-c-dev)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(libcmocka-dev clang-format python3 python3-zmq python3-msgpack clang libclang-rt-dev lmdb-utils python3-lmdb
         chromium lintian man-db groff-base fakeroot python3-openpyxl prometheus etcd-server)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all present" >&2
