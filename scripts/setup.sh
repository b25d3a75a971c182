#!/usr/bin/env bash
# Installs vmm's build and test dependencies from Debian packages.
# Idempotent: when every package is already installed it does nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libzydis-dev libzycore-dev libasmjit-dev
  libgtest-dev libcli11-dev libunicorn-dev libseccomp-dev libbenchmark-dev
  gcc-multilib nasm
  acpica-tools
  python3
  qemu-system-x86
  qemu-user
  gnuplot-nox
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
