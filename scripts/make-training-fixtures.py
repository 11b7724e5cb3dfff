"""PyTorch autograd references for the training engine (issue: trainable BERT-family model).

Writes test/fixtures/training/:
- `tiny-bert-grads.safetensors` + `tiny-bert-grads.json`: on ../shared/models/tiny-bert-mlm with a
  new 2-class head (N(0, 0.02) weights from numpy seed 0, bias 0, stored here), the first 8
  sentences of SST-2 dev (the shared reference ids, padded to the batch's longest sequence), in
  float64 with dropout off:
    * `task`:   cross-entropy of pooler -> classifier; the gradient of every tensor (the word
                embeddings only on the rows the batch uses: every other row is exactly 0);
    * `istar`:  task + lambda * (1 - IsoScore*) over the hidden states of layers 1..L at the
                non-padding tokens (RESEARCH.md §2; C0 = the ddof=1 covariance of that cloud with
                the weights at hand, held constant; zeta 0.2; lambda -5). IsoScore* is computed
                from the eigenvalues of Sigma as the authors do, not from the closed form, so the
                engine's analytic gradient is checked against an independent route. Gradients of
                layer 0's tensors and the embeddings' LayerNorm (every route of the penalty
                passes through them), plus dPenalty/dX of the cloud;
    * `cosreg`: task + lambda * (S - N)/N^2 over the last layer's non-padding tokens (lambda 1);
                the same tensors as `istar`;
    * `mlm`:    masked-LM cross-entropy at fixed masked positions (every 5th non-special token,
                its original id as the label) through the tied decoder; the gradients of layer 1,
                the MLM head transform and bias, and 24 rows of the (dense) word-embedding
                gradient.
- `adamw.json`: five steps of torch.optim.AdamW (lr 1e-3, betas (0.9, 0.999), eps 1e-8,
  weight decay 0.01) on fixed gradients, with a parameter group without decay, and with
  gradient clipping to norm 1.0 before each step (torch.nn.utils.clip_grad_norm_).

Run with Debian's python3-torch: /usr/bin/python3 scripts/make-training-fixtures.py
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))
from hf_bert_torch import forward, load_safetensors, save_safetensors  # noqa: E402

SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MODEL = os.path.join(SHARED, "models", "tiny-bert-mlm")
REF = os.path.join(MODEL, "reference")
OUT = os.path.join(ROOT, "test", "fixtures", "training")
BATCH = 8
ZETA, LAMBDA_ISTAR, LAMBDA_COSREG = 0.2, -5.0, 1.0


def batch():
    ids = np.load(os.path.join(REF, "sst2_dev48.input_ids.npy"))[:BATCH].astype(np.int64)
    mask = np.load(os.path.join(REF, "sst2_dev48.attention_mask.npy"))[:BATCH].astype(np.int64)
    types = np.load(os.path.join(REF, "sst2_dev48.token_type_ids.npy"))[:BATCH].astype(np.int64)
    longest = int(mask.sum(axis=1).max())  # DataCollatorWithPadding: pad to the batch's longest
    ids, mask, types = ids[:, :longest], mask[:, :longest], types[:, :longest]
    with open(os.path.join(SHARED, "data", "glue", "SST-2", "dev.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:BATCH + 1]
    with open(os.path.join(REF, "sst2_dev48.tsv"), encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f][:BATCH]
    assert [r[0] for r in rows] == sentences, "the reference sentences are the first rows of SST-2 dev"
    labels = np.array([int(r[1]) for r in rows], dtype=np.int64)
    return ids, mask, types, labels


def isoscore_star_by_eigenvalues(points, c0, zeta):
    """IsoScore* as the authors' steps: eigenvalues of Sigma, normalise, defect, k, iota."""
    n, d = points.shape
    xc = points - points.mean(dim=0, keepdim=True)
    c = xc.T @ xc / (n - 1)
    sigma = (1 - zeta) * c + zeta * c0
    lam = torch.linalg.eigvalsh(sigma)
    lam_hat = math.sqrt(d) * lam / torch.linalg.norm(lam)
    defect = torch.linalg.norm(lam_hat - 1) / math.sqrt(2 * (d - math.sqrt(d)))
    k = (d - defect ** 2 * (d - math.sqrt(d))) ** 2 / d
    return (k - 1) / (d - 1)


def cosreg(points):
    n = points.shape[0]
    u = points / torch.linalg.norm(points, dim=1, keepdim=True)
    s = (u.sum(dim=0) ** 2).sum()
    return (s - n) / n ** 2


def main():
    os.makedirs(OUT, exist_ok=True)
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    raw = load_safetensors(os.path.join(MODEL, "model.safetensors"))
    rng = np.random.default_rng(0)
    head = {
        "classifier.weight": torch.from_numpy(rng.normal(0.0, 0.02, size=(2, cfg["hidden_size"]))),
        "classifier.bias": torch.zeros(2, dtype=torch.float64),
    }
    ids, mask, types, labels = batch()
    ids_t, mask_t, types_t, labels_t = map(torch.from_numpy, (ids, mask, types, labels))
    keep = mask_t.bool()
    L = cfg["num_hidden_layers"]

    def leaves():
        t = {k: v.to(torch.float64).clone().requires_grad_(True) for k, v in raw.items()}
        t.update({k: v.clone().requires_grad_(True) for k, v in head.items()})
        return t

    def run(with_mlm=False):
        t = leaves()
        out = forward(cfg, t, ids_t, mask_t, types_t, dtype=torch.float64, with_mlm=with_mlm)
        return t, out

    def task_loss(t, out):
        logits = F.linear(out["pooler_output"], t["classifier.weight"], t["classifier.bias"])
        return F.cross_entropy(logits, labels_t), logits

    def cloud(out, layers):
        return torch.cat([out["hidden_states"][i][keep] for i in layers], dim=0)

    tensors, values = {}, {}
    used_rows = sorted(set(ids.reshape(-1).tolist()))
    word = "bert.embeddings.word_embeddings.weight"

    # task
    t, out = run()
    loss, logits = task_loss(t, out)
    loss.backward()
    values["task"] = {"loss": loss.item(), "logits": logits.detach().numpy().tolist()}
    for name, p in t.items():
        if name.startswith("cls."):
            continue  # the MLM head is not on the classification path
        if name == word:
            g = p.grad.numpy()
            assert np.count_nonzero(np.delete(g, used_rows, axis=0)) == 0
            tensors[f"task.grad.{name}.rows"] = g[used_rows]
        else:
            tensors[f"task.grad.{name}"] = p.grad.numpy()
    tensors["word_rows"] = np.array(used_rows, dtype=np.float64)

    # istar and cosreg
    subset = [n for n in raw if n.startswith("bert.encoder.layer.0.") or n.startswith("bert.embeddings.LayerNorm")]
    with torch.no_grad():
        _, eval_out = run()
        x0 = cloud(eval_out, range(1, L + 1))
        xc = x0 - x0.mean(dim=0, keepdim=True)
        c0 = xc.T @ xc / (x0.shape[0] - 1)
    tensors["istar.c0"] = c0.numpy()
    for kind in ("istar", "cosreg"):
        t, out = run()
        loss, _ = task_loss(t, out)
        points = cloud(out, range(1, L + 1)) if kind == "istar" else cloud(out, [L])
        points.retain_grad()
        if kind == "istar":
            value = isoscore_star_by_eigenvalues(points, c0, ZETA)
            penalty = LAMBDA_ISTAR * (1 - value)
        else:
            value = cosreg(points)
            penalty = LAMBDA_COSREG * value
        (loss + penalty).backward()
        values[kind] = {"loss": (loss + penalty).item(), "taskLoss": loss.item(), "penalty": penalty.item(), "value": value.item(), "points": points.shape[0]}
        for name in subset:
            tensors[f"{kind}.grad.{name}"] = t[name].grad.numpy()
        # dPenalty/dX alone, for the regulariser's own gradient.
        p2 = points.detach().clone().requires_grad_(True)
        pen2 = LAMBDA_ISTAR * (1 - isoscore_star_by_eigenvalues(p2, c0, ZETA)) if kind == "istar" else LAMBDA_COSREG * cosreg(p2)
        pen2.backward()
        tensors[f"{kind}.points"] = p2.detach().numpy()
        tensors[f"{kind}.penalty_grad"] = p2.grad.numpy()

    # masked LM
    special = {0, 101, 102, 103}
    mlm_labels = np.full(ids.shape, -100, dtype=np.int64)
    k = 0
    for b in range(ids.shape[0]):
        for j in range(ids.shape[1]):
            if mask[b, j] and ids[b, j] not in special:
                if k % 5 == 0:
                    mlm_labels[b, j] = ids[b, j]
                k += 1
    masked_ids = ids.copy()
    masked_ids[mlm_labels != -100] = 103  # [MASK]
    t = leaves()
    out = forward(cfg, t, torch.from_numpy(masked_ids), mask_t, types_t, dtype=torch.float64, with_mlm=True)
    vocab = cfg["vocab_size"]
    loss = F.cross_entropy(out["mlm_logits"].reshape(-1, vocab), torch.from_numpy(mlm_labels).reshape(-1), ignore_index=-100)
    loss.backward()
    values["mlm"] = {"loss": loss.item(), "masked": int((mlm_labels != -100).sum())}
    tensors["mlm.input_ids"] = masked_ids.astype(np.float64)
    tensors["mlm.labels"] = mlm_labels.astype(np.float64)
    rows = sorted(set(used_rows[:12]) | set(rng.choice(vocab, 12, replace=False).tolist()))
    tensors["mlm.word_rows"] = np.array(rows, dtype=np.float64)
    tensors[f"mlm.grad.{word}.rows"] = t[word].grad.numpy()[rows]
    for name, p in t.items():
        if name.startswith("bert.encoder.layer.1.") or name.startswith("cls.predictions."):
            tensors[f"mlm.grad.{name}"] = p.grad.numpy()

    tensors["input_ids"] = ids.astype(np.float64)
    tensors["attention_mask"] = mask.astype(np.float64)
    tensors["token_type_ids"] = types.astype(np.float64)
    tensors["labels"] = labels.astype(np.float64)
    tensors.update({k: v.numpy() for k, v in head.items()})
    save_safetensors(os.path.join(OUT, "tiny-bert-grads.safetensors"), tensors)
    meta = {
        "model": "../shared/models/tiny-bert-mlm", "batch": BATCH, "seq_len": int(ids.shape[1]), "dtype": "float64 (stored as float32)",
        "zeta": ZETA, "lambda_istar": LAMBDA_ISTAR, "lambda_cosreg": LAMBDA_COSREG, "values": values,
        "torch": torch.__version__,
    }
    with open(os.path.join(OUT, "tiny-bert-grads.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    adamw()


def adamw():
    """Five AdamW steps on fixed gradients, two parameter groups, with clipping."""
    rng = np.random.default_rng(1)
    w = torch.tensor(rng.normal(size=(3, 4)), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(rng.normal(size=(4,)), dtype=torch.float64, requires_grad=True)
    w0, b0 = w.detach().clone(), b.detach().clone()
    opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    grads, lrs, after = [], [], []
    for step in range(5):
        gw, gb = rng.normal(size=(3, 4)) * (step + 1), rng.normal(size=(4,)) * (step + 1)
        w.grad, b.grad = torch.tensor(gw), torch.tensor(gb)
        norm = torch.nn.utils.clip_grad_norm_([w, b], 1.0).item()
        lr = 1e-3 * (1 - step / 5)  # a linear decay, set before each step as a scheduler does
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        grads.append({"w": gw.tolist(), "b": gb.tolist(), "normBeforeClip": norm})
        lrs.append(lr)
        after.append({"w": w.detach().numpy().tolist(), "b": b.detach().numpy().tolist()})
    with open(os.path.join(OUT, "adamw.json"), "w") as f:
        json.dump({"torch": torch.__version__, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": {"w": 0.01, "b": 0.0},
                   "maxGradNorm": 1.0, "w0": w0.numpy().tolist(), "b0": b0.numpy().tolist(), "lrs": lrs,
                   "grads": grads, "after": after}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
