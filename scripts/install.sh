#!/usr/bin/env bash
# Installs what reagent needs on a fresh Debian 12 machine.
#   scripts/install.sh          npm dependencies only (enough to run the daemon)
#   scripts/install.sh --test   also the real peers the test suite starts:
#                               Docker Engine + busybox, Debian's registry, Go (gob
#                               reference, systemd notify socket), Chromium (inspector
#                               browser tests), dbus + python3-dbusmock (NetworkManager
#                               mock), systemd (systemd-analyze verify, systemd-notify),
#                               qemu-user + arm64 libc/libstdc++ (the arm64 single executable),
#                               util-linux (setpriv, unshare, nsenter: tests as
#                               another user, private network namespaces)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--test" ]]; then
  packages=(docker.io busybox-static docker-registry apache2-utils golang-go chromium openssl iproute2 util-linux ca-certificates
            dbus python3-dbusmock systemd qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross
            docker-compose)
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if (( ${#missing[@]} )); then
    if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
    echo "installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
