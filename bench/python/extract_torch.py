"""The PyTorch anchor for hidden-state extraction: a BERT encoder (the transformers forward,
re-implemented in plain torch in hf_bert_torch.py, the same code that made the test fixtures)
run in eval mode under torch.no_grad() in float32 on random token ids with all-ones attention
masks, computing all hidden states (as output_hidden_states=True) and copying them to numpy.

Usage:
  /usr/bin/python3 extract_torch.py (--model-dir DIR | --random-config {tiny,base})
      [--seq-len 128] [--batch-size 32] [--batches 4] [--threads 2] [--warmup 1] [--seed 0]
`--random-config tiny` is the shape of /work/shared/models/tiny-bert-mlm (random weights);
`--model-dir DIR` loads DIR/config.json and DIR/model.safetensors; `base` is BERT-base
(30522 vocab, hidden 768, 12 layers, 12 heads, intermediate 3072, 512 positions) with
normal(0, 0.02) weights. Prints one JSON line; `seconds` is the wall time of the timed batches
only (no model building, no warm-up).
"""
import argparse
import json
import os
import sys
import time

TINY = {
    "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512, "hidden_act": "gelu",
    "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0,
    "position_embedding_type": "absolute",
}
BASE = dict(TINY, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model-dir")
    src.add_argument("--random-config", choices=["tiny", "base"])
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    # Debian's torch calls the system BLAS (OpenBLAS, pthreads) for GEMMs; that pool ignores
    # torch.set_num_threads, so it is sized here, before numpy/torch load it. With torch's OpenMP
    # threads spin-waiting (the default active wait policy) next to OpenBLAS's own threads, two
    # threads on a 2-core machine ran 3-5x slower than one; a passive wait policy avoids that.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    global np, torch, hf
    import numpy as np
    import torch
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import hf_bert_torch as hf

    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    if a.model_dir:
        with open(os.path.join(a.model_dir, "config.json")) as f:
            cfg = json.load(f)
        tensors = hf.load_safetensors(os.path.join(a.model_dir, "model.safetensors"))
        name = os.path.basename(os.path.normpath(a.model_dir))
    else:
        cfg = TINY if a.random_config == "tiny" else BASE
        tensors = hf.random_bert_weights(cfg, std=0.02, seed=a.seed)
        name = f"random-{a.random_config}"
    if a.seq_len > cfg["max_position_embeddings"]:
        raise SystemExit("seq-len exceeds max_position_embeddings")
    tensors = {k: v.to(torch.float32).contiguous() for k, v in tensors.items()}

    g = torch.Generator().manual_seed(a.seed + 1)
    shape = (a.batch_size, a.seq_len)
    mask = torch.ones(shape, dtype=torch.long)
    types = torch.zeros(shape, dtype=torch.long)
    batches = [torch.randint(1000, cfg["vocab_size"], shape, generator=g) for _ in range(a.warmup + a.batches)]

    def run(ids):
        out = hf.forward(cfg, tensors, ids, mask, types, dtype=torch.float32, with_pooler=False, with_mlm=False)
        # the consumer copies every layer out of the framework
        return [np.array(h.numpy(), copy=True) for h in out["hidden_states"]]

    with torch.no_grad():
        for ids in batches[:a.warmup]:
            run(ids)
        t0 = time.perf_counter()
        checksum = 0.0
        for ids in batches[a.warmup:]:
            hs = run(ids)
            checksum += float(hs[-1][:, 0, 0].sum())
        seconds = time.perf_counter() - t0

    tokens = a.batches * a.batch_size * a.seq_len
    print(json.dumps({
        "model": name, "seq_len": a.seq_len, "batch_size": a.batch_size, "batches": a.batches,
        "threads": a.threads, "layers": cfg["num_hidden_layers"] + 1, "hidden": cfg["hidden_size"],
        "tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "torch": torch.__version__,
        "omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "checksum": checksum,
    }))


if __name__ == "__main__":
    main()
