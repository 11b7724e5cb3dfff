#!/usr/bin/python3
"""Make the tiny Hugging Face model fixtures in test/fixtures/models/<name>/ (bert, roberta,
distilbert, albert): config.json, model.safetensors (float32, written by hand), inputs.json and
expected.json (hidden states, pooler output, MLM logits computed in float64 from the float32
weights by the plain-torch re-implementation of transformers' forward in
bench/python/hf_bert_torch.py; the `transformers` package is not used).

Before writing, the same code is checked against the shared PyTorch reference outputs of
/work/shared/models/tiny-bert-mlm (skipped with --no-check, or when that folder is missing).

Usage: /usr/bin/python3 scripts/make-model-fixtures.py [--out test/fixtures/models] [--no-check]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))
import hf_bert_torch as hf  # noqa: E402

REFERENCE = "/work/shared/models/tiny-bert-mlm"

V, H, E, NH, I, P = 40, 8, 4, 2, 16, 16
B, T = 3, 7
LENGTHS = [7, 5, 3]


# ----------------------------------------------------------------------------- configs

def bert_config():
    return {
        "architectures": ["BertForMaskedLM"], "model_type": "bert",
        "vocab_size": V, "hidden_size": H, "num_hidden_layers": 1, "num_attention_heads": NH,
        "intermediate_size": I, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": P, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "position_embedding_type": "absolute", "use_cache": True, "classifier_dropout": None,
        "torch_dtype": "float32",
    }


def roberta_config():
    return {
        "architectures": ["RobertaForMaskedLM"], "model_type": "roberta",
        "vocab_size": V, "hidden_size": H, "num_hidden_layers": 1, "num_attention_heads": NH,
        "intermediate_size": I, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        # RoBERTa convention: max_position_embeddings = max length + padding_idx + 1 (514 for 512)
        "max_position_embeddings": P + 2, "type_vocab_size": 1,
        "initializer_range": 0.02, "layer_norm_eps": 1e-05, "pad_token_id": 1, "bos_token_id": 0,
        "eos_token_id": 2, "position_embedding_type": "absolute", "use_cache": True,
        "classifier_dropout": None, "torch_dtype": "float32",
    }


def distilbert_config():
    return {
        "architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert",
        "activation": "gelu", "attention_dropout": 0.1, "dim": H, "dropout": 0.1, "hidden_dim": I,
        "initializer_range": 0.02, "max_position_embeddings": P, "n_heads": NH, "n_layers": 1,
        "pad_token_id": 0, "qa_dropout": 0.1, "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False, "tie_weights_": True, "vocab_size": V,
        "torch_dtype": "float32",
    }


def albert_config():
    return {
        "architectures": ["AlbertForMaskedLM"], "model_type": "albert",
        "vocab_size": V, "embedding_size": E, "hidden_size": H, "num_hidden_layers": 2,
        "num_hidden_groups": 1, "num_attention_heads": NH, "intermediate_size": I,
        "inner_group_num": 1, "hidden_act": "gelu_new", "hidden_dropout_prob": 0,
        "attention_probs_dropout_prob": 0, "max_position_embeddings": P, "type_vocab_size": 2,
        "initializer_range": 0.02, "layer_norm_eps": 1e-12, "classifier_dropout_prob": 0.1,
        "position_embedding_type": "absolute", "pad_token_id": 0, "bos_token_id": 2,
        "eos_token_id": 3, "torch_dtype": "float32",
    }


# ----------------------------------------------------------------------------- weight shapes
# kind: "m" = matrix/embedding normal(0, 0.5); "g" = LayerNorm weight 1 + normal(0, 0.1);
# "b" = bias / LayerNorm bias normal(0, 0.1).

def _lin(spec, name, out, inp):
    spec[name + ".weight"] = ("m", (out, inp))
    spec[name + ".bias"] = ("b", (out,))


def _ln(spec, name, n):
    spec[name + ".weight"] = ("g", (n,))
    spec[name + ".bias"] = ("b", (n,))


def bert_like_spec(cfg, base):
    s = {}
    e = f"{base}.embeddings"
    s[f"{e}.word_embeddings.weight"] = ("m", (V, H))
    s[f"{e}.position_embeddings.weight"] = ("m", (cfg["max_position_embeddings"], H))
    s[f"{e}.token_type_embeddings.weight"] = ("m", (cfg["type_vocab_size"], H))
    _ln(s, f"{e}.LayerNorm", H)
    for i in range(cfg["num_hidden_layers"]):
        p = f"{base}.encoder.layer.{i}"
        for n in ("query", "key", "value"):
            _lin(s, f"{p}.attention.self.{n}", H, H)
        _lin(s, f"{p}.attention.output.dense", H, H)
        _ln(s, f"{p}.attention.output.LayerNorm", H)
        _lin(s, f"{p}.intermediate.dense", I, H)
        _lin(s, f"{p}.output.dense", H, I)
        _ln(s, f"{p}.output.LayerNorm", H)
    _lin(s, f"{base}.pooler.dense", H, H)
    if base == "bert":
        _lin(s, "cls.predictions.transform.dense", H, H)
        _ln(s, "cls.predictions.transform.LayerNorm", H)
        s["cls.predictions.bias"] = ("b", (V,))
    else:
        _lin(s, "lm_head.dense", H, H)
        _ln(s, "lm_head.layer_norm", H)
        s["lm_head.bias"] = ("b", (V,))
    return s


def distilbert_spec(cfg):
    s = {}
    e = "distilbert.embeddings"
    s[f"{e}.word_embeddings.weight"] = ("m", (V, H))
    s[f"{e}.position_embeddings.weight"] = ("m", (P, H))
    _ln(s, f"{e}.LayerNorm", H)
    for i in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{i}"
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            _lin(s, f"{p}.attention.{n}", H, H)
        _ln(s, f"{p}.sa_layer_norm", H)
        _lin(s, f"{p}.ffn.lin1", I, H)
        _lin(s, f"{p}.ffn.lin2", H, I)
        _ln(s, f"{p}.output_layer_norm", H)
    _lin(s, "vocab_transform", H, H)
    _ln(s, "vocab_layer_norm", H)
    s["vocab_projector.bias"] = ("b", (V,))
    return s


def albert_spec(cfg):
    s = {}
    e = "albert.embeddings"
    s[f"{e}.word_embeddings.weight"] = ("m", (V, E))
    s[f"{e}.position_embeddings.weight"] = ("m", (P, E))
    s[f"{e}.token_type_embeddings.weight"] = ("m", (2, E))
    _ln(s, f"{e}.LayerNorm", E)
    _lin(s, "albert.encoder.embedding_hidden_mapping_in", H, E)
    p = "albert.encoder.albert_layer_groups.0.albert_layers.0"
    for n in ("query", "key", "value", "dense"):
        _lin(s, f"{p}.attention.{n}", H, H)
    _ln(s, f"{p}.attention.LayerNorm", H)
    _lin(s, f"{p}.ffn", I, H)
    _lin(s, f"{p}.ffn_output", H, I)
    _ln(s, f"{p}.full_layer_layer_norm", H)
    _lin(s, "albert.pooler", H, H)
    _lin(s, "predictions.dense", E, H)
    _ln(s, "predictions.LayerNorm", E)
    s["predictions.bias"] = ("b", (V,))
    return s


def make_weights(spec, seed):
    torch.manual_seed(seed)
    out = {}
    for name in sorted(spec):
        kind, shape = spec[name]
        if kind == "m":
            t = torch.randn(*shape) * 0.5
        elif kind == "g":
            t = 1.0 + torch.randn(*shape) * 0.1
        else:
            t = torch.randn(*shape) * 0.1
        out[name] = t.to(torch.float32)
    return out


# ----------------------------------------------------------------------------- inputs

def make_inputs(kind, gen):
    """Right-padded batch of lengths 7, 5, 3. kind: 'bert' (pair pattern with token types),
    'roberta' (<s> a </s></s> b </s>, zero types), 'single' ([CLS] a [SEP], zero types)."""
    if kind == "roberta":
        cls, sep, pad, lo, hi = 0, 2, 1, 4, V - 1  # <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=V-1
    else:
        cls, sep, pad, lo, hi = 2, 3, 0, 5, V  # [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4

    def rnd(n):
        return [int(x) for x in torch.randint(lo, hi, (n,), generator=gen)]

    ids, mask, types = [], [], []
    for n in LENGTHS:
        if kind == "bert" and n >= 5:
            a = (n - 3) // 2 + (n - 3) % 2
            bb = n - 3 - a
            seq = [cls] + rnd(a) + [sep] + rnd(bb) + [sep]
            tt = [0] * (a + 2) + [1] * (bb + 1)
        elif kind == "roberta" and n >= 6:
            a = (n - 4) // 2 + (n - 4) % 2
            bb = n - 4 - a
            seq = [cls] + rnd(a) + [sep, sep] + rnd(bb) + [sep]
            tt = [0] * n
        else:
            seq = [cls] + rnd(n - 2) + [sep]
            tt = [0] * n
        ids.append(seq + [pad] * (T - n))
        mask.append([1] * n + [0] * (T - n))
        types.append(tt + [0] * (T - n))
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


# ----------------------------------------------------------------------------- fixtures

FIXTURES = [
    # name, config, spec fn, extra tied tensors (name -> source), inputs kind, seed
    ("bert", bert_config, lambda c: bert_like_spec(c, "bert"), {}, "bert", 1001),
    ("roberta", roberta_config, lambda c: bert_like_spec(c, "roberta"),
     {"lm_head.decoder.weight": "roberta.embeddings.word_embeddings.weight"}, "roberta", 1002),
    ("distilbert", distilbert_config, distilbert_spec,
     {"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"}, "single", 1003),
    ("albert", albert_config, albert_spec,
     {"predictions.decoder.weight": "albert.embeddings.word_embeddings.weight"}, "bert", 1004),
]


def to_list(t):
    return None if t is None else t.detach().cpu().numpy().astype(np.float64).tolist()


def write_fixture(out_dir, name, cfg_fn, spec_fn, tied, kind, seed):
    cfg = cfg_fn()
    weights = make_weights(spec_fn(cfg), seed)
    for dst, src in tied.items():
        weights[dst] = weights[src].clone()
    gen = torch.Generator().manual_seed(seed + 500)
    inputs = make_inputs(kind, gen)
    # Round trip through the file so the expected values come from exactly what is stored.
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    st_path = os.path.join(d, "model.safetensors")
    hf.save_safetensors(st_path, weights, metadata={"format": "pt"})
    loaded = hf.load_safetensors(st_path)
    assert set(loaded) == set(weights) and all(torch.equal(loaded[k], weights[k]) for k in weights)
    res = hf.forward(cfg, loaded, inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"], dtype=torch.float64)
    # float32 run of the same code, for the README's note on expected float32 error
    r32 = hf.forward(cfg, loaded, inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"], dtype=torch.float32)
    err32 = max(float((a.double() - b).abs().max()) for a, b in zip(r32["hidden_states"], res["hidden_states"]))
    err32 = max(err32, float((r32["mlm_logits"].double() - res["mlm_logits"]).abs().max()))
    expected = {
        "hidden_states": [to_list(h) for h in res["hidden_states"]],
        "pooler_output": to_list(res["pooler_output"]),
        "mlm_logits": to_list(res["mlm_logits"]),
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "inputs.json"), "w") as f:
        json.dump(inputs, f)
        f.write("\n")
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    print(f"{name}: {len(weights)} tensors, hidden_states {len(res['hidden_states'])}x{list(res['hidden_states'][0].shape)}, "
          f"pooler {None if res['pooler_output'] is None else list(res['pooler_output'].shape)}, "
          f"logits {list(res['mlm_logits'].shape)}, |logits|max {float(res['mlm_logits'].abs().max()):.3g}, "
          f"float32-vs-float64 max abs {err32:.2e}")


# ----------------------------------------------------------------------------- reference check

def check_reference():
    cfg = json.load(open(os.path.join(REFERENCE, "config.json")))
    tensors = hf.load_safetensors(os.path.join(REFERENCE, "model.safetensors"))
    ref = os.path.join(REFERENCE, "reference")
    worst = 0.0
    for ds in ("sst2_dev48", "mrpc_dev16"):
        ld = lambda k: np.load(os.path.join(ref, f"{ds}.{k}.npy"))  # noqa: E731
        ids, mask, types = ld("input_ids"), ld("attention_mask"), ld("token_type_ids")
        hs_ref, pool_ref, log_ref = ld("hidden_states"), ld("pooler_output"), ld("mlm_logits_first_tokens")
        keep = mask.astype(bool)
        for dtype in (torch.float64, torch.float32):
            with torch.no_grad():
                r = hf.forward(cfg, tensors, ids.astype(np.int64), mask.astype(np.int64), types.astype(np.int64), dtype=dtype)
            hs = torch.stack(r["hidden_states"]).double().numpy()
            e_hs = np.abs(hs - hs_ref)[:, keep].max()
            e_hs_pad = np.abs(hs - hs_ref).max()
            e_pool = np.abs(r["pooler_output"].double().numpy() - pool_ref).max()
            lg = r["mlm_logits"].double().numpy()[:log_ref.shape[0], :log_ref.shape[1]]
            e_log = np.abs(lg - log_ref).max()
            rel_log = e_log / np.abs(log_ref).max()
            print(f"reference {ds} ({str(dtype).replace('torch.', '')}): max abs err hidden(non-pad) {e_hs:.2e} "
                  f"hidden(all incl. pad) {e_hs_pad:.2e} pooler {e_pool:.2e} mlm_logits {e_log:.2e} "
                  f"(|ref|max {np.abs(log_ref).max():.3g}, rel {rel_log:.1e})")
            worst = max(worst, e_hs, e_pool, rel_log)
    if worst > 1e-4:
        raise SystemExit(f"reference check FAILED (worst {worst:.2e})")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "models"))
    ap.add_argument("--no-check", action="store_true")
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    if not a.no_check and os.path.isdir(REFERENCE):
        check_reference()
    for fx in FIXTURES:
        write_fixture(a.out, *fx)


if __name__ == "__main__":
    main()
