#!/usr/bin/env bash
# Rebuilds kernels/*.wasm from kernels/*.c (committed, so npm ci needs no compiler).
# Needs clang and lld with the WebAssembly target: apt-get install clang lld.
set -euo pipefail
cd "$(dirname "$0")/../kernels"
for src in *.c; do
  clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin-memset \
    -Wl,--no-entry -Wl,--export=__heap_base -Wl,--growable-table -Wl,--max-memory=4294967296 \
    -o "${src%.c}.wasm" "$src"
  echo "built kernels/${src%.c}.wasm ($(stat -c %s "${src%.c}.wasm") bytes)"
done
