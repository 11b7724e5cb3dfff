"""The PyTorch anchor for bench/fastfood.ts: per-tensor Fastfood (RESEARCH.md §5) in plain torch,
float32 on the CPU, with an iterative Walsh–Hadamard transform on torch tensors (one
out-of-place level at a time, as the author-attributed code's fast_walsh_hadamard_torched).

    P theta = (H G Pi H B pad_L(theta))[:D] / (|G| sqrt(D)),   L = 2^ceil(log2 max(D, d))
    P^T y   = (B H Pi^T G H pad_L(y))[:d] / (|G| sqrt(D))

Usage: /usr/bin/python3 fastfood_torch.py < spec.json, spec = {"threads": 1, "repeats": 3,
"cases": [{"label": str, "d": int, "sizes": [D_1, ...], "repeats": optional int}]}.
Prints one JSON line per case: setup, forward and adjoint seconds (best of `repeats` after a
warm-up), the parameter count and the sum of L.
"""
import json
import sys
import time

import torch


def fwht(x):
    """Unnormalised Walsh-Hadamard transform of a 1-D tensor of length 2^k (new tensor)."""
    n = x.numel()
    h = 1
    while h < n:
        v = x.view(-1, 2, h)
        a, b = v[:, 0, :], v[:, 1, :]
        x = torch.stack((a + b, a - b), dim=1).view(n)
        h *= 2
    return x


def next_pow2(n):
    p = 1
    while p < n:
        p *= 2
    return p


class Fastfood:
    def __init__(self, rows, d, generator):
        self.rows, self.d = rows, d
        self.L = next_pow2(max(rows, d))
        self.B = torch.randint(0, 2, (self.L,), generator=generator).float() * 2 - 1
        self.Pi = torch.randperm(self.L, generator=generator)
        self.G = torch.randn(self.L, generator=generator)
        self.scale = 1.0 / float(torch.sqrt(self.G.double().pow(2).sum() * rows))

    def project(self, theta):
        a = torch.zeros(self.L)
        a[: self.d] = theta
        a = fwht(self.B * a)
        b = fwht(self.G * a[self.Pi])
        return b[: self.rows] * self.scale

    def adjoint(self, y):
        a = torch.zeros(self.L)
        a[: self.rows] = y
        a = self.G * fwht(a)
        b = torch.empty(self.L)
        b[self.Pi] = a
        return (self.B * fwht(b))[: self.d] * self.scale


def best(fn, repeats):
    fn()
    t = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - start)
    return t


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(int(spec.get("threads", 1)))
    g = torch.Generator().manual_seed(0)
    for case in spec["cases"]:
        d, sizes = case["d"], case["sizes"]
        repeats = int(case.get("repeats", spec.get("repeats", 3)))
        start = time.perf_counter()
        parts = [Fastfood(D, d, g) for D in sizes]
        setup = time.perf_counter() - start
        theta = torch.randn(d, generator=g)
        ys = [torch.randn(D, generator=g) for D in sizes]

        def forward():
            return [p.project(theta) for p in parts]

        def adjoint():
            grad = torch.zeros(d, dtype=torch.float64)
            for p, y in zip(parts, ys):
                grad += p.adjoint(y).double()
            return grad

        with torch.no_grad():
            fwd = best(forward, repeats)
            adj = best(adjoint, repeats)
        print(json.dumps({
            "label": case["label"], "d": d, "tensors": len(sizes), "parameters": sum(sizes),
            "sumL": sum(p.L for p in parts), "threads": torch.get_num_threads(),
            "setupSeconds": setup, "forwardSeconds": fwd, "adjointSeconds": adj,
        }), flush=True)
        del parts, ys


if __name__ == "__main__":
    main()
