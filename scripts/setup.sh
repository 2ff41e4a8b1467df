#!/usr/bin/env bash
# Installs every system dependency of megatron-cpp with apt. Idempotent: packages already
# present are skipped, so a warm machine spends no time here.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  catch2 libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libopenmpi-dev openmpi-bin
  slurmctld slurmd slurm-client munge
  libopenblas-dev libomp-dev
  libsimdjson-dev zlib1g-dev libsentencepiece-dev
  unicode-data fortunes fortune-mod
  python3 python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -x /usr/local/cuda/bin/nvcc ] || command -v nvcc >/dev/null 2>&1; then
  echo "setup: CUDA toolkit found ($(PATH=/usr/local/cuda/bin:$PATH nvcc --version | tail -1))"
else
  echo "setup: no CUDA toolkit: the build will be CPU-only"
fi
