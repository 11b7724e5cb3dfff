"""The PyTorch anchor for one training step: the transformers BERT forward re-implemented in plain
torch (hf_bert_torch.py, the code that made the gradient fixtures) with autograd, a 2-class
classifier on the pooler, cross-entropy, backward, torch.optim.AdamW (weight decay 0.01) in
float32 on random token ids with all-ones attention masks. No dropout (hf_bert_torch's forward
has none); the repgeom side is timed with and without it.

Usage:
  /usr/bin/python3 train_step_torch.py [--config tiny|base] [--batch-size 32] [--seq-len 128]
      [--threads 2] [--steps 3]
Prints one JSON line: best seconds per step (after one warm-up) and its forward/backward/optimizer
parts, and the process's peak resident memory.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_bert_torch import forward  # noqa: E402
from extract_torch import TINY, BASE  # noqa: E402


def classifier_tensors(cfg):
    """BertForSequenceClassification's trainable tensors (2 labels) in Hugging Face order: normal(0,
    0.02) matrices, LayerNorm weights 1, biases 0, each a leaf that requires grad."""
    H, I, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    shapes = {"bert.embeddings.word_embeddings.weight": (V, H), "bert.embeddings.position_embeddings.weight": (512, H),
              "bert.embeddings.token_type_embeddings.weight": (2, H), "bert.embeddings.LayerNorm.weight": (H,),
              "bert.embeddings.LayerNorm.bias": (H,), "bert.pooler.dense.weight": (H, H), "bert.pooler.dense.bias": (H,),
              "classifier.weight": (2, H), "classifier.bias": (2,)}
    for l in range(L):
        p = f"bert.encoder.layer.{l}"
        for m, (o, i) in {"attention.self.query": (H, H), "attention.self.key": (H, H), "attention.self.value": (H, H),
                          "attention.output.dense": (H, H), "intermediate.dense": (I, H), "output.dense": (H, I)}.items():
            shapes[f"{p}.{m}.weight"], shapes[f"{p}.{m}.bias"] = (o, i), (o,)
        for m in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{p}.{m}.weight"], shapes[f"{p}.{m}.bias"] = (H,), (H,)
    return {k: (torch.randn(s) * 0.02 if len(s) == 2 else torch.ones(s) if k.endswith("LayerNorm.weight") else torch.zeros(s)).requires_grad_(True)
            for k, s in shapes.items()}


def random_batch(cfg, batch_size, seq_len):
    """Random token ids in [1000, vocab), all-ones attention masks, random 0/1 labels."""
    ids = torch.randint(1000, cfg["vocab_size"], (batch_size, seq_len))
    return ids, torch.ones_like(ids), torch.randint(0, 2, (batch_size,))


def classifier_loss(cfg, t, ids, mask, labels):
    """Cross-entropy of the 2-class classifier on the pooler output (no dropout)."""
    out = forward(cfg, t, ids, mask, None, dtype=torch.float32, with_mlm=False)
    return F.cross_entropy(F.linear(out["pooler_output"], t["classifier.weight"], t["classifier.bias"]), labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=["tiny", "base"], default="tiny")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = TINY if a.config == "tiny" else BASE
    t = classifier_tensors(cfg)
    opt = torch.optim.AdamW(list(t.values()), lr=1e-5, weight_decay=0.01)
    ids, mask, labels = random_batch(cfg, a.batch_size, a.seq_len)
    best = None
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = classifier_loss(cfg, t, ids, mask, labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        parts = {"step": t3 - t0, "forward": t1 - t0, "backward": t2 - t1, "optimizer": t3 - t2}
        if s > 0 and (best is None or parts["step"] < best["step"]):
            best = parts
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "steps": a.steps, "config": a.config, "batch": a.batch_size, "seqLen": a.seq_len,
                      "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **best}))


if __name__ == "__main__":
    main()
