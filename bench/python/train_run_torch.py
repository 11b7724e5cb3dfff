"""The PyTorch anchor for a whole I-STAR fine-tuning run (bench/train-run.ts), written from the
formulas of RESEARCH.md §2, not from repgeom's code:

    loss = cross_entropy + λ · (1 − IsoScore⋆),   Σ = (1 − ζ)·C_batch + ζ·C0,
    IsoScore⋆ = (tr(Σ)²/‖Σ‖_F² − 1)/(d − 1)

over the hidden states of layers 1..L at the non-padding tokens of the batch, stacked into one
cloud; C_batch and C0 are ddof=1 covariances; C0 from the model in eval mode (no dropout, no
gradient) over the epoch's training batches, whole batches until the count reaches --c0-sample,
recomputed at the start of every epoch.

The model: BERT in plain torch with dropout (hf_bert_torch's helpers and safetensors loader),
the checkpoint's body and pooler, a new 2-class head N(0, 0.02) (bias 0) on the pooler, dropout
0.1 (embeddings, attention probabilities, both residual branches, the pooled output). AdamW
(weight decay 0.01 on every parameter), linear decay of the learning rate to 0 without warmup,
gradient clipping at norm 1, batches padded to their longest row. Float32.

Usage:
  /usr/bin/python3 train_run_torch.py --model DIR --ids IDS.json [--epochs 2] [--lambda -1]
      [--zeta 0.2] [--lr 2e-5] [--batch-size 32] [--threads 2] [--seed 0] [--c0-sample 250000]
      [--log STEPS.jsonl]
IDS.json is written by bench/sst2-ids.ts (repgeom's tokenizer). Prints one JSON line; --log writes
one line per step (step, loss, taskLoss, isoscoreStarBatch), the keys of repgeom's log.jsonl.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_bert_torch import _merge_heads, _split_heads, act_fn, extended_mask, load_safetensors  # noqa: E402


def lin(p, name, x):
    return F.linear(x, p[name + ".weight"], p[name + ".bias"])


def ln(p, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p[name + ".bias"], eps)


def bert(cfg, p, ids, mask, drop, train):
    """BertForSequenceClassification's forward with dropout: (logits, hidden states 1..L)."""
    eps, nh, act = cfg.get("layer_norm_eps", 1e-12), cfg["num_attention_heads"], act_fn(cfg.get("hidden_act", "gelu"))
    b, t = ids.shape
    pos = torch.arange(t).unsqueeze(0).expand(b, t)
    e = "bert.embeddings"
    x = (F.embedding(ids, p[f"{e}.word_embeddings.weight"]) + F.embedding(torch.zeros_like(ids), p[f"{e}.token_type_embeddings.weight"])
         + F.embedding(pos, p[f"{e}.position_embeddings.weight"]))
    x = F.dropout(ln(p, f"{e}.LayerNorm", x, eps), drop, train)
    ext = extended_mask(mask, torch.float32)
    hidden = []
    for i in range(cfg["num_hidden_layers"]):
        a = f"bert.encoder.layer.{i}"
        s = f"{a}.attention.self"
        dh = x.shape[-1] // nh
        q, k, v = (_split_heads(lin(p, f"{s}.{n}", x), nh) for n in ("query", "key", "value"))
        probs = F.dropout(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + ext, dim=-1), drop, train)
        ctx = _merge_heads(torch.matmul(probs, v))
        h = ln(p, f"{a}.attention.output.LayerNorm", F.dropout(lin(p, f"{a}.attention.output.dense", ctx), drop, train) + x, eps)
        inter = act(lin(p, f"{a}.intermediate.dense", h))
        x = ln(p, f"{a}.output.LayerNorm", F.dropout(lin(p, f"{a}.output.dense", inter), drop, train) + h, eps)
        hidden.append(x)
    pooled = torch.tanh(lin(p, "bert.pooler.dense", x[:, 0]))
    return lin(p, "classifier", F.dropout(pooled, drop, train)), hidden


def cloud(hidden, mask):
    """Hidden states of layers 1..L at non-padding tokens, stacked: [L·n, H]."""
    keep = mask.reshape(-1).bool()
    return torch.cat([h.reshape(-1, h.shape[-1])[keep] for h in hidden], 0)


def isoscore_star(points, c0, zeta):
    xc = points - points.mean(0, keepdim=True)
    c = xc.T @ xc / (points.shape[0] - 1)
    s = (1 - zeta) * c + zeta * c0
    d = s.shape[0]
    return ((torch.trace(s) ** 2 / (s * s).sum()) - 1) / (d - 1)


def pad(rows):
    t = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), t, dtype=torch.long)
    mask = torch.zeros(len(rows), t, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lambda", dest="lam", type=float, default=-1.0)
    ap.add_argument("--zeta", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--c0-sample", type=int, default=250_000)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--log", default=None)
    a = ap.parse_args()
    started = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    data = json.load(open(a.ids))
    stored = load_safetensors(os.path.join(a.model, "model.safetensors"))
    p = {k: v.float().clone() for k, v in stored.items() if k.startswith("bert.")}
    H = cfg["hidden_size"]
    p["classifier.weight"] = torch.empty(2, H).normal_(0.0, 0.02)
    p["classifier.bias"] = torch.zeros(2)
    params = list(p.values())
    for t in params:
        t.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    train_ids, train_labels = data["train"]["ids"], torch.tensor(data["train"]["labels"])
    n, bs = len(train_ids), a.batch_size
    per_epoch = math.ceil(n / bs)
    total = per_epoch * a.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, (total - s) / total))
    step, last_iso, train_seconds, c0_seconds = 0, None, 0.0, 0.0
    log = open(a.log, "w") if a.log else None
    epoch_iso = []
    for epoch in range(a.epochs):
        order = torch.randperm(n).tolist()
        batches = [order[b * bs:(b + 1) * bs] for b in range(per_epoch)]
        # C0: eval mode, no gradient, whole batches until the sample is reached (float64 sums).
        t0 = time.perf_counter()
        with torch.no_grad():
            count, s1, s2 = 0, torch.zeros(H, dtype=torch.float64), torch.zeros(H, H, dtype=torch.float64)
            for rows in batches:
                ids, mask = pad([train_ids[i] for i in rows])
                _, hidden = bert(cfg, p, ids, mask, a.dropout, False)
                x = cloud(hidden, mask).double()
                count, s1, s2 = count + x.shape[0], s1 + x.sum(0), s2 + x.T @ x
                if count >= a.c0_sample:
                    break
            mean = s1 / count
            c0 = ((s2 - count * torch.outer(mean, mean)) / (count - 1)).float()
        c0_seconds += time.perf_counter() - t0
        t0 = time.perf_counter()
        epoch_iso = []
        for rows in batches:
            ids, mask = pad([train_ids[i] for i in rows])
            logits, hidden = bert(cfg, p, ids, mask, a.dropout, True)
            task = F.cross_entropy(logits, train_labels[rows])
            iso = isoscore_star(cloud(hidden, mask), c0, a.zeta)
            loss = task + a.lam * (1 - iso)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            last_iso = iso.item()
            epoch_iso.append(last_iso)
            if log:
                log.write(json.dumps({"step": step, "loss": loss.item(), "taskLoss": task.item(), "isoscoreStarBatch": last_iso}) + "\n")
        train_seconds += time.perf_counter() - t0
    t0 = time.perf_counter()
    correct = 0
    with torch.no_grad():
        dev_ids, dev_labels = data["dev"]["ids"], data["dev"]["labels"]
        for b in range(0, len(dev_ids), bs):
            ids, mask = pad(dev_ids[b:b + bs])
            logits, _ = bert(cfg, p, ids, mask, a.dropout, False)
            correct += (logits.argmax(-1) == torch.tensor(dev_labels[b:b + bs])).sum().item()
    eval_seconds = time.perf_counter() - t0
    if log:
        log.close()
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "lambda": a.lam, "zeta": a.zeta,
                      "steps": step, "seconds": time.perf_counter() - started, "trainLoopSeconds": train_seconds,
                      "c0Seconds": c0_seconds, "evalSeconds": eval_seconds, "stepsPerSecond": step / train_seconds,
                      "lr": a.lr, "seed": a.seed, "accuracy": correct / len(dev_ids), "finalBatchIsoscoreStar": last_iso,
                      "lastEpochMeanBatchIsoscoreStar": sum(epoch_iso) / len(epoch_iso),
                      "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


if __name__ == "__main__":
    main()
