#!/usr/bin/env bash
# Copies the header libraries and small shared libraries the build needs from this machine into
# device/prefix (ignored by git), laid out like the system so their CMake package files work
# from there: a GPU machine with only CUDA, cuDNN, NCCL, OpenMPI and CMake installed then
# configures with -DCMAKE_PREFIX_PATH=$PWD/device/prefix (scripts/gpu-check.sh does this).
#
# Bundled: CLI11, nlohmann-json, spdlog + fmt, Catch2 v2, simdjson (headers, CMake packages,
# shared libraries), the cuDNN headers. OpenBLAS is 36 MB and usually present on GPU machines
# (libopenblas-dev): pass --with-openblas to bundle it as well (library, headers, libgfortran,
# a relocatable .pc).
set -euo pipefail
cd "$(dirname "$0")/.."
with_openblas=0
for arg in "$@"; do
  case "$arg" in
    --with-openblas) with_openblas=1 ;;
    *) echo "usage: scripts/device-bundle.sh [--with-openblas]" >&2; exit 2 ;;
  esac
done

arch=x86_64-linux-gnu
prefix=device/prefix
rm -rf device
mkdir -p "$prefix/include" "$prefix/lib/$arch/cmake" "$prefix/lib/cmake" "$prefix/share/cmake"

need() { [ -e "$1" ] || { echo "device-bundle: missing $1 (run scripts/setup.sh first)" >&2; exit 1; }; }

# Headers.
for header in CLI nlohmann spdlog fmt catch2 simdjson.h; do
  need "/usr/include/$header"
  cp -rL "/usr/include/$header" "$prefix/include/"
done
# cuDNN headers (GPU machines may have the cuDNN libraries without them; the backend API is
# stable across 9.x, and the code checks the runtime version before using newer features).
cudnn_headers=(/usr/local/cuda/include/cudnn*.h)
need "${cudnn_headers[0]}"
cp -L "${cudnn_headers[@]}" "$prefix/include/"
# CMake package files (they locate their prefix relative to themselves).
for package in fmt spdlog simdjson; do
  need "/usr/lib/$arch/cmake/$package"
  cp -rL "/usr/lib/$arch/cmake/$package" "$prefix/lib/$arch/cmake/"
done
need /usr/lib/cmake/Catch2
cp -rL /usr/lib/cmake/Catch2 "$prefix/lib/cmake/"
cp /usr/lib/libCatch2WithMain.a "$prefix/lib/"  # named by Catch2's package file
for package in CLI11 nlohmann_json; do
  need "/usr/share/cmake/$package"
  cp -rL "/usr/share/cmake/$package" "$prefix/share/cmake/"
done
# Shared libraries with their soname links (the binaries find them through the build RPATH).
for pattern in 'libfmt.so*' 'libspdlog.so*' 'libsimdjson.so*'; do
  # shellcheck disable=SC2086
  cp -P /usr/lib/$arch/$pattern "$prefix/lib/$arch/"
done

if [ "$with_openblas" = 1 ]; then
  openblas_dir=/usr/lib/$arch/openblas-pthread
  need "$openblas_dir/libopenblas.so.0"
  mkdir -p "$prefix/include/openblas" "$prefix/lib/pkgconfig"
  cp -L "$openblas_dir/libopenblas.so.0" "$prefix/lib/$arch/"
  ln -sf libopenblas.so.0 "$prefix/lib/$arch/libopenblas.so"
  cp -P /usr/lib/$arch/libgfortran.so.5* /usr/lib/$arch/libquadmath.so.0* "$prefix/lib/$arch/"
  cp -L /usr/include/$arch/openblas-pthread/cblas.h /usr/include/$arch/openblas-pthread/openblas_config.h \
    "$prefix/include/openblas/"
  version=$(pkg-config --modversion openblas 2>/dev/null || echo 0.3)
  cat > "$prefix/lib/pkgconfig/openblas.pc" <<PC
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib/$arch
includedir=\${prefix}/include/openblas
Name: openblas
Description: OpenBLAS (bundled for the GPU machine)
Version: $version
Libs: -L\${libdir} -lopenblas
Cflags: -I\${includedir}
PC
fi

# Fix up absolute symlinks that point back into /usr (copy -P keeps relative ones only).
find "$prefix" -type l | while read -r link; do
  target=$(readlink "$link")
  case "$target" in /*) cp -L --remove-destination "$target" "$link" ;; esac
done

# The shared test data the GPU tests read (the tiny training corpus and the GPT-2 tokenizer);
# scripts/gpu-check.sh points MEGATRON_TEST_DATA here when ../shared/data is absent.
data_src=${MEGATRON_TEST_DATA:-../shared/data}
if [ -d "$data_src" ]; then
  mkdir -p device/data/text device/data/tokenizers
  cp "$data_src/text/fortunes.jsonl" device/data/text/
  cp -r "$data_src/tokenizers/gpt2" device/data/tokenizers/
else
  echo "device-bundle: no test data at $data_src (GPU training tests will fail there)" >&2
fi

cat > device/README <<'TXT'
Build dependencies copied from the development machine by scripts/device-bundle.sh.
Use: cmake -DCMAKE_PREFIX_PATH=$PWD/device/prefix ...   (scripts/gpu-check.sh does it)
TXT
echo "device-bundle: $(du -sh device | cut -f1) in device/ (prefix: $prefix)"
find "$prefix" \( -name '*Config.cmake' -o -name '*-config.cmake' \) | sort
