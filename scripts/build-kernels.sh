#!/usr/bin/env bash
# Rebuilds kernels/*.wasm from kernels/*.c (committed, so npm ci needs no compiler).
# Needs clang and lld 16 with the WebAssembly target (Debian: apt-get install clang-16 lld-16);
# clang 14 emits a pre-standard opcode for relaxed-SIMD multiply-add, so gemm-relaxed-simd needs 16.
set -euo pipefail
cd "$(dirname "$0")/../kernels"
CLANG=${CLANG:-clang-16}
COMMON=(--target=wasm32 -O3 -nostdlib -fno-builtin-memset -Wl,--no-entry)

built() { echo "built kernels/$1 ($(stat -c %s "$1") bytes)"; }

# encoder.c, train.c, hadamard.c: single-threaded, each with its own growable memory.
for kernel in encoder train hadamard; do
  "$CLANG" "${COMMON[@]}" -msimd128 \
    -Wl,--export=__heap_base -Wl,--growable-table -Wl,--max-memory=4294967296 \
    -o "$kernel.wasm" "$kernel.c"
  built "$kernel.wasm"
done

# gemm.c: imports one shared memory used by every thread; each thread sets its own
# __stack_pointer. Two builds: plain SIMD128, and relaxed SIMD (FMA micro-kernel).
GEMM=(-matomics -mbulk-memory -Wl,--import-memory -Wl,--shared-memory -Wl,--max-memory=4294967296
      -Wl,--export=__stack_pointer -Wl,--export=__heap_base)
"$CLANG" "${COMMON[@]}" "${GEMM[@]}" -msimd128 -o gemm-simd128.wasm gemm.c
built gemm-simd128.wasm
"$CLANG" "${COMMON[@]}" "${GEMM[@]}" -mrelaxed-simd -DRELAXED -o gemm-relaxed-simd.wasm gemm.c
built gemm-relaxed-simd.wasm
