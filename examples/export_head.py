"""Export one attention head as the body of headscope's POST /v1/models/{model}/layers/{layer}/heads/{head}/{qk|ov}.

The API reads TransformerLens orientation (row vectors, q = x W_Q + b_Q): W_Q, W_K, W_V [d_model, d_head],
W_O [d_head, d_model], b_Q, b_K [d_head], ln_w, ln_b [d_model]. Two sources:

* a Hugging Face safetensors checkpoint, with numpy only (no torch, no safetensors package needed):

      python3 examples/export_head.py CHECKPOINT LAYER HEAD qk|ov [OUT.safetensors] [--n-heads N]

  CHECKPOINT is a model.safetensors (or its folder) with config.json beside it for the head counts.
  GPT-2 (c_attn [d_model, 3*d_model] = [Q | K | V] column blocks, c_proj rows h*d_head..., already
  [in, out]) and nn.Linear models (q_proj, k_proj, v_proj, o_proj/out_proj stored [out, in], transposed
  here: Llama, Mistral, Qwen2, GPT-Neo; grouped-query heads share their key/value head). The
  pre-attention norm goes along as ln_w, ln_b (RMSNorm has no ln_b: POST with ?norm=rmsnorm).

* a TransformerLens HookedTransformer (needs torch and transformer_lens; load it with
  fold_ln=False, center_writing_weights=False, center_unembed=False so the weights are the model's own):

      from export_head import from_transformer_lens, encode_head
      open("head.safetensors", "wb").write(encode_head(from_transformer_lens(model, 0, 1, "qk")))

The file written is byte for byte what examples/export_head.ts writes for the same head (F32, compact
JSON header padded to 8 bytes); test/examples/export-head.test.ts checks both against a real local worker.
Then: curl -X POST -H "Authorization: Bearer $HEADSCOPE_TOKEN" --data-binary @L0H1-qk.safetensors \\
      http://127.0.0.1:8787/v1/models/gpt2-small/layers/0/heads/1/qk
"""
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), 8 + n


def read_tensor(path, header, base, name):
    """One tensor read at its offsets (the checkpoint is never read whole), as float32."""
    e = header[name]
    begin, end = e["data_offsets"]
    with open(path, "rb") as f:
        f.seek(base + begin)
        raw = f.read(end - begin)
    if e["dtype"] == "BF16":
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    elif e["dtype"] in DTYPES:
        a = np.frombuffer(raw, dtype=DTYPES[e["dtype"]]).astype(np.float32)
    else:
        raise ValueError(f"{name} has dtype {e['dtype']}; expected a float dtype")
    return a.reshape(e["shape"])


def from_hf(checkpoint, layer, head, circuit, n_heads=None):
    """The head's tensors (numpy float32, TransformerLens orientation) in the API's order."""
    path = os.path.join(checkpoint, "model.safetensors") if os.path.isdir(checkpoint) else checkpoint
    header, base = read_header(path)
    config_path = os.path.join(os.path.dirname(path), "config.json")
    config = json.load(open(config_path)) if os.path.exists(config_path) else {}

    def find(*suffixes):
        return next((k for k in header if any(k == s or k.endswith("." + s) for s in suffixes)), None)

    def get(name):
        return read_tensor(path, header, base, name)

    out, l = {}, layer
    c_attn = find(f"h.{l}.attn.c_attn.weight")
    if c_attn:  # GPT-2: Conv1D weights are [in, out] already
        w = get(c_attn)
        d_model = w.shape[0]
        heads = n_heads or config.get("n_head") or d_model // 64
        d_head = d_model // heads
        bias = get(find(f"h.{l}.attn.c_attn.bias"))
        cols = lambda part: slice(part * d_model + head * d_head, part * d_model + (head + 1) * d_head)
        if circuit == "qk":
            out["W_Q"], out["W_K"] = w[:, cols(0)], w[:, cols(1)]
            out["b_Q"], out["b_K"] = bias[cols(0)], bias[cols(1)]
        else:
            out["W_V"] = w[:, cols(2)]
            out["W_O"] = get(find(f"h.{l}.attn.c_proj.weight"))[head * d_head : (head + 1) * d_head, :]
        out["ln_w"], out["ln_b"] = get(find(f"h.{l}.ln_1.weight")), get(find(f"h.{l}.ln_1.bias"))
        return out
    # nn.Linear models: weights are [out, in]; transpose each head's block
    attn = f"layers.{l}.self_attn" if find(f"layers.{l}.self_attn.q_proj.weight") else f"h.{l}.attn.attention"
    q = find(f"{attn}.q_proj.weight")
    if not q:
        raise ValueError(f"no GPT-2 c_attn or q_proj weights for layer {l} in {os.path.basename(path)} (GPT-NeoX's fused QKV: use headscope scan)")
    wq = get(q)
    d_model = wq.shape[1]
    heads = n_heads or config.get("num_attention_heads") or config.get("num_heads")
    if not heads:
        raise ValueError("the number of heads is unknown: put config.json beside the checkpoint or pass --n-heads")
    d_head = config.get("head_dim") or d_model // heads
    kv_head = head // (heads // config.get("num_key_value_heads", heads))
    rows = lambda h: slice(h * d_head, (h + 1) * d_head)
    optional = lambda name: get(find(name)) if find(name) else None
    if circuit == "qk":
        out["W_Q"] = wq[rows(head), :].T
        out["W_K"] = get(find(f"{attn}.k_proj.weight"))[rows(kv_head), :].T
        bq, bk = optional(f"{attn}.q_proj.bias"), optional(f"{attn}.k_proj.bias")
        if bq is not None and bk is not None:
            out["b_Q"], out["b_K"] = bq[rows(head)], bk[rows(kv_head)]
    else:
        out["W_V"] = get(find(f"{attn}.v_proj.weight"))[rows(kv_head), :].T
        out["W_O"] = get(find(f"{attn}.o_proj.weight", f"{attn}.out_proj.weight"))[:, rows(head)].T
    ln_w = optional(f"layers.{l}.input_layernorm.weight")
    ln_w = ln_w if ln_w is not None else optional(f"h.{l}.ln_1.weight")
    ln_b = optional(f"layers.{l}.input_layernorm.bias")
    ln_b = ln_b if ln_b is not None else optional(f"h.{l}.ln_1.bias")
    if ln_w is not None:
        out["ln_w"] = ln_w
    if ln_b is not None:
        out["ln_b"] = ln_b
    return out


def from_transformer_lens(model, layer, head, circuit):
    """The same tensors from a HookedTransformer (TransformerLens already uses this orientation)."""
    t = lambda x: x.detach().float().cpu().numpy()
    block = model.blocks[layer]
    if circuit == "qk":
        out = {"W_Q": t(model.W_Q[layer, head]), "W_K": t(model.W_K[layer, head]), "b_Q": t(model.b_Q[layer, head]), "b_K": t(model.b_K[layer, head])}
    else:
        out = {"W_V": t(model.W_V[layer, head]), "W_O": t(model.W_O[layer, head])}
    if hasattr(block.ln1, "w"):  # absent when the model was loaded with fold_ln=True
        out["ln_w"] = t(block.ln1.w)
        if hasattr(block.ln1, "b"):
            out["ln_b"] = t(block.ln1.b)
    return out


def encode_head(tensors, metadata=None):
    """A safetensors file: compact JSON header padded with spaces to 8 bytes, F32 little-endian data."""
    header, offset, parts = {"__metadata__": metadata or {}}, 0, []
    for name, a in tensors.items():
        data = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        parts.append(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + b"".join(parts)


def main(argv):
    n_heads = None
    if "--n-heads" in argv:
        i = argv.index("--n-heads")
        n_heads = int(argv[i + 1])
        del argv[i : i + 2]
    if len(argv) < 4 or argv[3] not in ("qk", "ov"):
        sys.exit("usage: export_head.py CHECKPOINT LAYER HEAD qk|ov [OUT.safetensors] [--n-heads N]")
    checkpoint, layer, head, circuit = argv[0], int(argv[1]), int(argv[2]), argv[3]
    out = argv[4] if len(argv) > 4 else f"L{layer}H{head}-{circuit}.safetensors"
    tensors = from_hf(checkpoint, layer, head, circuit, n_heads)
    meta = {"source": os.path.basename(checkpoint), "layer": str(layer), "head": str(head), "circuit": circuit}
    with open(out, "wb") as f:
        f.write(encode_head(tensors, meta))
    print(f"{out}: " + ", ".join(f"{k} [{', '.join(map(str, v.shape))}]" for k, v in tensors.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
