"""Plain-torch re-implementation of the Hugging Face transformers forward pass (eval mode, no
dropout) of BERT-family encoders, written from the semantics of modeling_bert.py,
modeling_roberta.py, modeling_distilbert.py and modeling_albert.py. No `transformers` or
`safetensors` package is needed: safetensors files are parsed and written by hand.

Shared by scripts/make-model-fixtures.py (exact float64 fixtures) and
bench/python/extract_torch.py (throughput anchor).

Supported `model_type`s: bert, roberta, distilbert, albert (absolute position embeddings only).
`forward(config, weights, input_ids, attention_mask, token_type_ids)` returns
{"hidden_states": [L+1 tensors [B, T, H]], "pooler_output": [B, H] or None, "mlm_logits": [B, T, V]
or None}, with hidden_states numbered as transformers does (index 0 = embedding output; for ALBERT
after `embedding_hidden_mapping_in`).
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------- safetensors I/O

_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


def load_safetensors(path):
    """Parse a .safetensors file: {name: torch.Tensor}. BF16 is widened to float32."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = raw[base + begin:base + end]
        shape = info["shape"]
        if info["dtype"] == "BF16":
            u16 = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<")).reshape(shape)
        out[name] = torch.from_numpy(arr.copy())
    return out


def save_safetensors(path, tensors, metadata=None):
    """Write {name: float32 array/tensor} as safetensors: u64 LE header length, JSON header
    (padded with spaces to a multiple of 8), then the raw little-endian data, contiguous, in the
    order of the sorted names."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        arr = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        arr = np.ascontiguousarray(arr, dtype="<f4")
        data = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)


# ----------------------------------------------------------------------------- activations

def _gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _gelu_tanh(x):  # transformers NewGELUActivation ("gelu_new"); same formula as gelu_pytorch_tanh
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def _gelu_fast(x):
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


ACT = {
    "gelu": _gelu_erf,
    "gelu_python": _gelu_erf,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_fast,
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": torch.relu,
    "silu": F.silu,
    "swish": F.silu,
    "tanh": torch.tanh,
}


def act_fn(name):
    if name not in ACT:
        raise ValueError(f"unsupported activation {name!r}")
    return ACT[name]


# ----------------------------------------------------------------------------- building blocks

class Weights:
    """Name lookup that tolerates checkpoints saved from the base model (no `bert.` prefix) and
    tied weights that are not stored."""

    def __init__(self, tensors, prefix, dtype):
        self.t = tensors
        self.prefix = prefix
        self.dtype = dtype
        self._cache = {}

    def has(self, name):
        return name in self.t or (name.startswith(self.prefix + ".") and name[len(self.prefix) + 1:] in self.t)

    def __call__(self, name):
        if name in self._cache:
            return self._cache[name]
        if name in self.t:
            v = self.t[name]
        elif name.startswith(self.prefix + ".") and name[len(self.prefix) + 1:] in self.t:
            v = self.t[name[len(self.prefix) + 1:]]
        else:
            raise KeyError(name)
        v = v.to(self.dtype)
        self._cache[name] = v
        return v


def linear(w, name, x):
    return F.linear(x, w(name + ".weight"), w(name + ".bias"))


def layer_norm(w, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), w(name + ".weight"), w(name + ".bias"), eps)


def _split_heads(x, nh):
    b, t, h = x.shape
    return x.view(b, t, nh, h // nh).permute(0, 2, 1, 3)


def _merge_heads(x):
    b, nh, t, dh = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(b, t, nh * dh)


def extended_mask(attention_mask, dtype):
    """BERT/RoBERTa/ALBERT: (1 - mask)[:, None, None, :] * finfo(dtype).min, added to scores."""
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def bert_self_attention(w, name, x, ext_mask, nh, q="query", k="key", v="value"):
    """BertSelfAttention / AlbertAttention core: softmax(QK^T/sqrt(dh) + mask) V."""
    dh = x.shape[-1] // nh
    ql = _split_heads(linear(w, f"{name}.{q}", x), nh)
    kl = _split_heads(linear(w, f"{name}.{k}", x), nh)
    vl = _split_heads(linear(w, f"{name}.{v}", x), nh)
    scores = torch.matmul(ql, kl.transpose(-1, -2)) / math.sqrt(dh)
    scores = scores + ext_mask
    probs = torch.softmax(scores, dim=-1)
    return _merge_heads(torch.matmul(probs, vl))


# ----------------------------------------------------------------------------- BERT / RoBERTa

def _bert_like(cfg, w, input_ids, attention_mask, token_type_ids, base, with_pooler, with_mlm):
    dtype = w.dtype
    eps = cfg.get("layer_norm_eps", 1e-12)
    nh = cfg["num_attention_heads"]
    act = act_fn(cfg.get("hidden_act", "gelu"))
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    b, t = input_ids.shape
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    if base == "roberta":
        # create_position_ids_from_input_ids: padding_idx + cumsum(ids != pad) * (ids != pad).
        # Depends on the ids, not on attention_mask.
        pad = cfg.get("pad_token_id", 1)
        nz = input_ids.ne(pad).long()
        position_ids = torch.cumsum(nz, dim=1) * nz + pad
    else:
        position_ids = torch.arange(t, dtype=torch.long).unsqueeze(0).expand(b, t)
    e = f"{base}.embeddings"
    x = (F.embedding(input_ids, w(f"{e}.word_embeddings.weight"))
         + F.embedding(token_type_ids, w(f"{e}.token_type_embeddings.weight"))
         + F.embedding(position_ids, w(f"{e}.position_embeddings.weight")))
    x = layer_norm(w, f"{e}.LayerNorm", x, eps)
    hidden = [x]
    ext = extended_mask(attention_mask, dtype)
    for i in range(cfg["num_hidden_layers"]):
        p = f"{base}.encoder.layer.{i}"
        ctx = bert_self_attention(w, f"{p}.attention.self", x, ext, nh)
        a = layer_norm(w, f"{p}.attention.output.LayerNorm", linear(w, f"{p}.attention.output.dense", ctx) + x, eps)
        inter = act(linear(w, f"{p}.intermediate.dense", a))
        x = layer_norm(w, f"{p}.output.LayerNorm", linear(w, f"{p}.output.dense", inter) + a, eps)
        hidden.append(x)
    pooled = None
    if with_pooler and w.has(f"{base}.pooler.dense.weight"):
        pooled = torch.tanh(linear(w, f"{base}.pooler.dense", x[:, 0]))
    logits = None
    if with_mlm:
        word = w(f"{e}.word_embeddings.weight")
        if base == "bert":
            y = act(linear(w, "cls.predictions.transform.dense", x))
            y = layer_norm(w, "cls.predictions.transform.LayerNorm", y, eps)
            dec = w("cls.predictions.decoder.weight") if w.has("cls.predictions.decoder.weight") else word
            logits = F.linear(y, dec) + w("cls.predictions.bias")
        else:
            # RobertaLMHead: dense -> gelu (always erf GELU, not config.hidden_act) -> layer_norm
            y = _gelu_erf(linear(w, "lm_head.dense", x))
            y = layer_norm(w, "lm_head.layer_norm", y, eps)
            dec = w("lm_head.decoder.weight") if w.has("lm_head.decoder.weight") else word
            logits = F.linear(y, dec) + w("lm_head.bias")
    return {"hidden_states": hidden, "pooler_output": pooled, "mlm_logits": logits}


# ----------------------------------------------------------------------------- DistilBERT

def _distilbert(cfg, w, input_ids, attention_mask, with_mlm):
    dtype = w.dtype
    eps = 1e-12  # hard-coded in modeling_distilbert.py
    nh = cfg["n_heads"]
    act = act_fn(cfg.get("activation", "gelu"))
    if cfg.get("sinusoidal_pos_embds", False):
        # the sinusoidal table is stored in the checkpoint as position_embeddings.weight anyway
        pass
    b, t = input_ids.shape
    position_ids = torch.arange(t, dtype=torch.long).unsqueeze(0).expand(b, t)
    e = "distilbert.embeddings"
    x = F.embedding(input_ids, w(f"{e}.word_embeddings.weight")) + F.embedding(position_ids, w(f"{e}.position_embeddings.weight"))
    x = layer_norm(w, f"{e}.LayerNorm", x, eps)
    hidden = [x]
    masked = (attention_mask == 0).view(b, 1, 1, t)
    neg = torch.tensor(torch.finfo(dtype).min, dtype=dtype)
    for i in range(cfg["n_layers"]):
        p = f"distilbert.transformer.layer.{i}"
        dh = x.shape[-1] // nh
        q = _split_heads(linear(w, f"{p}.attention.q_lin", x), nh) / math.sqrt(dh)  # q scaled first
        k = _split_heads(linear(w, f"{p}.attention.k_lin", x), nh)
        v = _split_heads(linear(w, f"{p}.attention.v_lin", x), nh)
        scores = torch.matmul(q, k.transpose(-1, -2))
        scores = scores.masked_fill(masked.expand_as(scores), neg)  # masked_fill, not addition
        probs = torch.softmax(scores, dim=-1)
        sa = linear(w, f"{p}.attention.out_lin", _merge_heads(torch.matmul(probs, v)))
        sa = layer_norm(w, f"{p}.sa_layer_norm", sa + x, eps)
        ff = linear(w, f"{p}.ffn.lin2", act(linear(w, f"{p}.ffn.lin1", sa)))
        x = layer_norm(w, f"{p}.output_layer_norm", ff + sa, eps)
        hidden.append(x)
    logits = None
    if with_mlm:
        y = act(linear(w, "vocab_transform", x))
        y = layer_norm(w, "vocab_layer_norm", y, eps)
        dec = w("vocab_projector.weight") if w.has("vocab_projector.weight") else w(f"{e}.word_embeddings.weight")
        logits = F.linear(y, dec) + w("vocab_projector.bias")
    return {"hidden_states": hidden, "pooler_output": None, "mlm_logits": logits}


# ----------------------------------------------------------------------------- ALBERT

def _albert(cfg, w, input_ids, attention_mask, token_type_ids, with_pooler, with_mlm):
    dtype = w.dtype
    eps = cfg.get("layer_norm_eps", 1e-12)
    nh = cfg["num_attention_heads"]
    act = act_fn(cfg.get("hidden_act", "gelu_new"))
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings are supported")
    b, t = input_ids.shape
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    position_ids = torch.arange(t, dtype=torch.long).unsqueeze(0).expand(b, t)
    e = "albert.embeddings"
    x = (F.embedding(input_ids, w(f"{e}.word_embeddings.weight"))
         + F.embedding(token_type_ids, w(f"{e}.token_type_embeddings.weight"))
         + F.embedding(position_ids, w(f"{e}.position_embeddings.weight")))
    x = layer_norm(w, f"{e}.LayerNorm", x, eps)  # size embedding_size
    x = linear(w, "albert.encoder.embedding_hidden_mapping_in", x)  # E -> H
    hidden = [x]  # AlbertTransformer records the state after the mapping
    ext = extended_mask(attention_mask, dtype)
    n_layers = cfg["num_hidden_layers"]
    n_groups = cfg.get("num_hidden_groups", 1)
    inner = cfg.get("inner_group_num", 1)
    per_group = n_layers // n_groups
    for i in range(n_layers):
        g = int(i / (n_layers / n_groups)) if per_group else 0
        for j in range(inner):
            p = f"albert.encoder.albert_layer_groups.{g}.albert_layers.{j}"
            ctx = bert_self_attention(w, f"{p}.attention", x, ext, nh)
            a = layer_norm(w, f"{p}.attention.LayerNorm", x + linear(w, f"{p}.attention.dense", ctx), eps)
            ff = linear(w, f"{p}.ffn_output", act(linear(w, f"{p}.ffn", a)))
            x = layer_norm(w, f"{p}.full_layer_layer_norm", ff + a, eps)
        hidden.append(x)  # one entry per num_hidden_layers step, not per inner layer
    pooled = None
    if with_pooler and w.has("albert.pooler.weight"):
        pooled = torch.tanh(linear(w, "albert.pooler", x[:, 0]))  # nn.Linear named `pooler`
    logits = None
    if with_mlm:
        y = act(linear(w, "predictions.dense", x))  # H -> E
        y = layer_norm(w, "predictions.LayerNorm", y, eps)
        dec = w("predictions.decoder.weight") if w.has("predictions.decoder.weight") else w(f"{e}.word_embeddings.weight")
        logits = F.linear(y, dec) + w("predictions.bias")
    return {"hidden_states": hidden, "pooler_output": pooled, "mlm_logits": logits}


# ----------------------------------------------------------------------------- entry point

def forward(config, tensors, input_ids, attention_mask=None, token_type_ids=None, dtype=torch.float32,
            with_pooler=True, with_mlm=True):
    """Forward pass of the model described by `config` (a dict from config.json) with weights
    `tensors` ({name: tensor}, transformers names). Computation in `dtype`."""
    input_ids = torch.as_tensor(input_ids, dtype=torch.long)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    attention_mask = torch.as_tensor(attention_mask, dtype=torch.long)
    if token_type_ids is not None:
        token_type_ids = torch.as_tensor(token_type_ids, dtype=torch.long)
    mt = config["model_type"]
    if mt in ("bert", "roberta"):
        w = Weights(tensors, mt, dtype)
        return _bert_like(config, w, input_ids, attention_mask, token_type_ids, mt, with_pooler, with_mlm)
    if mt == "distilbert":
        return _distilbert(config, Weights(tensors, "distilbert", dtype), input_ids, attention_mask, with_mlm)
    if mt == "albert":
        return _albert(config, Weights(tensors, "albert", dtype), input_ids, attention_mask, token_type_ids, with_pooler, with_mlm)
    raise ValueError(f"unsupported model_type {mt!r}")


def random_bert_weights(cfg, std=0.02, seed=0):
    """BERT (BertForMaskedLM names, tied decoder not stored) with normal(0, std) matrices,
    LayerNorm weight 1 / bias 0, biases 0 — like transformers' _init_weights."""
    g = torch.Generator().manual_seed(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]

    def n(*shape):
        return torch.empty(*shape).normal_(0.0, std, generator=g)

    t = {
        "bert.embeddings.word_embeddings.weight": n(V, H),
        "bert.embeddings.position_embeddings.weight": n(cfg["max_position_embeddings"], H),
        "bert.embeddings.token_type_embeddings.weight": n(cfg["type_vocab_size"], H),
        "bert.embeddings.LayerNorm.weight": torch.ones(H), "bert.embeddings.LayerNorm.bias": torch.zeros(H),
    }
    for i in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{i}"
        for name, (o, k) in {"attention.self.query": (H, H), "attention.self.key": (H, H), "attention.self.value": (H, H),
                             "attention.output.dense": (H, H), "intermediate.dense": (I, H), "output.dense": (H, I)}.items():
            t[f"{p}.{name}.weight"] = n(o, k)
            t[f"{p}.{name}.bias"] = torch.zeros(o)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[f"{p}.{ln}.weight"] = torch.ones(H)
            t[f"{p}.{ln}.bias"] = torch.zeros(H)
    t["bert.pooler.dense.weight"] = n(H, H)
    t["bert.pooler.dense.bias"] = torch.zeros(H)
    return t
