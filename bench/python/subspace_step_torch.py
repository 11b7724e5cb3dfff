"""The PyTorch anchor for bench/subspace-step.ts: one full fine-tuning step and one DID subspace
step (RESEARCH.md section 5) of the same BERT classifier in plain torch, float32 on the CPU.

Full fine-tuning: forward, backward, gradient clipping to norm 1, torch.optim.AdamW (weight decay
0.01) over every tensor (train_step_torch.py's model, batch and loss: hf_bert_torch's forward, a
2-class head on the pooler, no dropout).

DID: every tensor i becomes theta0_i + P_i theta_d with its own Fastfood P_i (fastfood_torch.py's:
H G Pi H B, unnormalised Walsh-Hadamard transform as a reshape-based butterfly, scale
1/(|G| sqrt(D_i)), L = 2^ceil(log2 max(D_i, d))), all sharing theta_d (starts at 0); the gradient
of theta_d comes from autograd through the projection, then clipping to norm 1 and AdamW on
theta_d alone (weight decay 0), as `repgeom intrinsic-dim` steps.

Usage:
  /usr/bin/python3 subspace_step_torch.py [--config tiny|base] [--batch-size 32] [--seq-len 64]
      [--threads 2] [--steps 3] [--dims 1000,100000]
Prints one JSON line per measurement (the full step, then DID at each d): the best seconds per
step of `steps` after one warm-up and its parts. The adjoint runs inside autograd's backward, so
forwardBackwardSeconds holds it (adjointSeconds is null); projectSeconds is theta0 + P theta_d.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract_torch import TINY, BASE  # noqa: E402
from fastfood_torch import Fastfood  # noqa: E402
from train_step_torch import classifier_loss, classifier_tensors, random_batch  # noqa: E402


def timed_steps(step, steps):
    """The parts of the fastest of `steps` steps after one warm-up (`step` returns its parts)."""
    step()
    best = None
    for _ in range(steps):
        parts = step()
        if best is None or parts["seconds"] < best["seconds"]:
            best = parts
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["tiny", "base"], default="tiny")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after the warm-up (at least 1)")
    ap.add_argument("--dims", default="1000,100000")
    a = ap.parse_args()
    if a.steps < 1:
        ap.error("--steps must be at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = TINY if a.config == "tiny" else BASE
    t = classifier_tensors(cfg)
    ids, mask, labels = random_batch(cfg, a.batch_size, a.seq_len)
    parameters = sum(v.numel() for v in t.values())
    model = "tiny-bert-mlm shape" if a.config == "tiny" else "BERT-base shape"
    common = {"impl": "pytorch", "torch": torch.__version__, "model": model, "parameters": parameters, "tensors": len(t),
              "threads": a.threads, "batch": a.batch_size, "seqLen": a.seq_len, "steps": a.steps}

    opt = torch.optim.AdamW(list(t.values()), lr=1e-5, weight_decay=0.01)

    def full_step():
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = classifier_loss(cfg, t, ids, mask, labels)
        loss.backward()
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(list(t.values()), 1.0)
        opt.step()
        t2 = time.perf_counter()
        return {"seconds": t2 - t0, "projectSeconds": 0.0, "forwardBackwardSeconds": t1 - t0, "adjointSeconds": 0.0, "optimizerSeconds": t2 - t1}

    full = timed_steps(full_step, a.steps)
    print(json.dumps({**common, "method": "full", "projection": None, "d": None, **full, "overhead": 0.0}), flush=True)
    del opt

    theta0 = {k: v.detach() for k, v in t.items()}
    del t
    g = torch.Generator().manual_seed(0)
    for d in (int(x) for x in a.dims.split(",")):
        start = time.perf_counter()
        parts = {k: Fastfood(v.numel(), d, g) for k, v in theta0.items()}
        setup = time.perf_counter() - start
        theta = torch.zeros(d, requires_grad=True)
        sub_opt = torch.optim.AdamW([theta], lr=1e-2, weight_decay=0.0)

        def did_step():
            t0 = time.perf_counter()
            sub_opt.zero_grad(set_to_none=False)
            tensors = {k: v + parts[k].project(theta).view(v.shape) for k, v in theta0.items()}
            t1 = time.perf_counter()
            loss = classifier_loss(cfg, tensors, ids, mask, labels)
            loss.backward()
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_([theta], 1.0)
            sub_opt.step()
            t3 = time.perf_counter()
            return {"seconds": t3 - t0, "projectSeconds": t1 - t0, "forwardBackwardSeconds": t2 - t1, "adjointSeconds": None, "optimizerSeconds": t3 - t2}

        did = timed_steps(did_step, a.steps)
        print(json.dumps({**common, "method": "did", "projection": "fastfood", "d": d, "setupSeconds": setup, **did,
                          "overhead": did["seconds"] / full["seconds"] - 1}), flush=True)
        del parts, sub_opt


if __name__ == "__main__":
    main()
