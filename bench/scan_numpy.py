"""numpy/LAPACK baseline for `npm run bench:scan`: the same 288 GPT-2 small spectra the default scan
computes (qk folded_augmented, ov folded; method §3), with singular vectors, two ways:
  dense    - form the d_model × d_model circuit and take its SVD (the published way),
  factored - thin QR of both factors, SVD of the d_head × d_head core (method §2).
Prints one JSON line: seconds for each, thread count, numpy version, and the spectra's σ₁ for a check.
Usage: python3 bench/scan_numpy.py MODEL.safetensors [DENSE_HEADS]  (time dense on the first DENSE_HEADS and scale)"""
import json, os, struct, sys, time
import numpy as np

L, H, D, DH = 12, 12, 768, 64

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n)); base = 8 + n
        out = {}
        for k, m in header.items():
            if k == "__metadata__": continue
            a, b = m["data_offsets"]; f.seek(base + a)
            out[k] = np.frombuffer(f.read(b - a), "<f4").reshape(m["shape"]).astype(np.float64)
    return out

def factors(t):
    """(name, A, B) with circuit = A Bᵀ for every head: qk folded_augmented, ov folded."""
    out = []
    for l in range(L):
        W, b = t[f"h.{l}.attn.c_attn.weight"], t[f"h.{l}.attn.c_attn.bias"]
        g, beta = t[f"h.{l}.ln_1.weight"], t[f"h.{l}.ln_1.bias"]
        for h in range(H):
            cols = lambda p: slice(p * D + h * DH, p * D + (h + 1) * DH)
            def fold(p):
                w = W[:, cols(p)]; f = g[:, None] * w
                return f - f.mean(axis=0, keepdims=True), b[cols(p)] + beta @ w
            (wq, bq), (wk, bk), (wv, _) = fold(0), fold(1), fold(2)
            wo = t[f"h.{l}.attn.c_proj.weight"][h * DH:(h + 1) * DH, :]
            wo = wo - wo.mean(axis=1, keepdims=True)
            out.append((f"L{l}H{h}qk", np.vstack([wq, bq]), np.vstack([wk, bk])))
            out.append((f"L{l}H{h}ov", wv, wo.T))
    return out

def dense(A, B):
    U, s, Vt = np.linalg.svd(A @ B.T, full_matrices=False)
    return s[:DH]

def factored(A, B):
    qa, ra = np.linalg.qr(A); qb, rb = np.linalg.qr(B)
    uc, s, vct = np.linalg.svd(ra @ rb.T)
    U, V = qa @ uc, qb @ vct.T
    return s

t0 = time.perf_counter()
fs = factors(read_safetensors(sys.argv[1]))
t_read = time.perf_counter() - t0
dense_heads = int(sys.argv[2]) if len(sys.argv) > 2 and int(sys.argv[2]) > 0 else len(fs)
res = {}
for name, fn, subset in (("factored", factored, fs), ("dense", dense, fs[:dense_heads])):
    t = time.perf_counter()
    s1 = [float(fn(A, B)[0]) for _, A, B in subset]
    # a subset is scaled to all heads (qk and ov alternate, so any even prefix is balanced)
    res[name] = {"seconds": (time.perf_counter() - t) * len(fs) / len(subset), "heads": len(subset), "sigma1": s1}
print(json.dumps({"numpy": np.__version__, "heads": len(fs), "read_and_fold_seconds": t_read,
                  "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"), "cpu_seconds": time.process_time(), **res}))
