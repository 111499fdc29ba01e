"""numpy/LAPACK baseline for `npm run bench:scan -- --shape llama-8b|llama-70b`: the same circuits a
default headscope scan computes for a Llama-shaped checkpoint (qk and ov, variant `folded` with
RMSNorm: the gain γ multiplied into the reading weights, nothing centred; GQA: query head h reads
key/value head h // (n_heads / n_kv_heads)), factored (thin QR of both factors, SVD of the
d_head × d_head core; method §2) with U and V formed, in float64. Reads the BF16 shards tensor by
tensor with the index, as a scan does. Prints one JSON line: seconds (read, fold, SVD), σ₁ per circuit.
Usage: python3 bench/scan_numpy_llama.py CHECKPOINT_DIR"""
import json, os, struct, sys, time
import numpy as np

t_start = time.perf_counter()
root = sys.argv[1]
cfg = json.load(open(os.path.join(root, "config.json")))
index = json.load(open(os.path.join(root, "model.safetensors.index.json")))["weight_map"]
H, KV, DH, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["hidden_size"]
L = cfg["num_hidden_layers"]
headers = {}

def read(name):
    f = os.path.join(root, index[name])
    if f not in headers:
        with open(f, "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            headers[f] = (json.loads(fh.read(n)), 8 + n)
    h, base = headers[f]
    m = h[name]; a, b = m["data_offsets"]
    with open(f, "rb") as fh:
        fh.seek(base + a); raw = np.frombuffer(fh.read(b - a), "<u2")
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(m["shape"]).astype(np.float64)

def factored(A, B):
    qa, ra = np.linalg.qr(A); qb, rb = np.linalg.qr(B)
    uc, s, vct = np.linalg.svd(ra @ rb.T)
    U, V = qa @ uc, qb @ vct.T
    return s, U, V

t_read = t_fold = t_svd = 0.0
sigma1 = []
for l in range(L):
    t = time.perf_counter()
    p = lambda s: f"model.layers.{l}.{s}"
    g = read(p("input_layernorm.weight"))
    wq, wk, wv, wo = (read(p(f"self_attn.{x}_proj.weight")) for x in "qkvo")
    t_read += time.perf_counter() - t
    for h in range(H):
        kv = h // (H // KV)
        t = time.perf_counter()
        A = g[:, None] * wq[h * DH:(h + 1) * DH, :].T          # W_Q [d, dh], γ folded
        B = g[:, None] * wk[kv * DH:(kv + 1) * DH, :].T
        Av = g[:, None] * wv[kv * DH:(kv + 1) * DH, :].T
        Bo = wo[:, h * DH:(h + 1) * DH]                         # W_Oᵀ [d, dh]
        t_fold += time.perf_counter() - t
        t = time.perf_counter()
        s, _, _ = factored(A, B); sigma1.append(float(s[0]))
        s, _, _ = factored(Av, Bo); sigma1.append(float(s[0]))
        t_svd += time.perf_counter() - t
print(json.dumps({"numpy": np.__version__, "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"), "circuits": len(sigma1),
                  "read_seconds": t_read, "fold_seconds": t_fold, "svd_seconds": t_svd,
                  "seconds": time.perf_counter() - t_start, "cpu_seconds": time.process_time(), "sigma1": sigma1}))
