"""GFLOP/s of PyTorch and numpy on the products of bench/gemm.ts (float32, best of 3 after a warm-up).

Usage: /usr/bin/python3 bench/python/gemm_torch.py THREADS
The caller sets OPENBLAS_NUM_THREADS / OMP_NUM_THREADS to THREADS before numpy loads.
Prints one JSON object per line: {"impl", "threads", "shape", "seconds", "gflops"}.
"""
import json
import sys
import time

import numpy as np
import torch

threads = int(sys.argv[1])
torch.set_num_threads(threads)
rng = np.random.default_rng(0)


def best(fn, reps=3):
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def arr(*shape):
    return rng.standard_normal(shape, dtype=np.float32)


x768, w768, w3072 = arr(4096, 768), arr(768, 768), arr(768, 3072)
dy3072, xbig = arr(4096, 3072), arr(10000, 768)
cases = [
    ("4096x768 . 768x768", lambda m: (lambda: m.matmul(x768t[m], w768t[m])), 2 * 4096 * 768 * 768),
    ("4096x768 . 768x3072", lambda m: (lambda: m.matmul(x768t[m], w3072t[m])), 2 * 4096 * 768 * 3072),
    ("X^T dY (4096x768, 4096x3072)", lambda m: (lambda: m.matmul(x768t[m].T, dy3072t[m])), 2 * 4096 * 768 * 3072),
    ("X^T X (10000x768)", lambda m: (lambda: m.matmul(xbigt[m].T, xbigt[m])), 2 * 10000 * 768 * 768),
]
x768t = {torch: torch.from_numpy(x768), np: x768}
w768t = {torch: torch.from_numpy(w768), np: w768}
w3072t = {torch: torch.from_numpy(w3072), np: w3072}
dy3072t = {torch: torch.from_numpy(dy3072), np: dy3072}
xbigt = {torch: torch.from_numpy(xbig), np: xbig}

for name, mod in (("pytorch " + torch.__version__, torch), ("numpy " + np.__version__, np)):
    for shape, make, flops in cases:
        s = best(make(mod))
        print(json.dumps({"impl": name, "threads": threads, "shape": shape, "seconds": s, "gflops": flops / s / 1e9}), flush=True)
