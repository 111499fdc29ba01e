"""numpy float32 baseline of bench/forward.bench.ts: the same GPT-2-layout forward pass (token and
position embeddings, blocks 0..L-2 in full, every block's ln1.hook_normalized captured, stopping at the
last block's attention input), on the same prompts, batched over all tokens as a numpy user would
write it (2-D matmuls through BLAS, attention batched over prompts of equal length). Threads are
whatever OPENBLAS_NUM_THREADS says (the bench sets 1). Prints JSON with the timings; writes the last
layer's attention input as raw float32 to OUT for the bench's cross-check.
Usage: python3 forward_numpy.py CHECKPOINT PROMPTS.json OUT"""
import json, math, struct, sys, time
import numpy as np


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return header, 8 + n


def load(path, header, start, name):
    e = header[name]
    assert e["dtype"] == "F32"
    a, b = e["data_offsets"]
    return np.fromfile(path, dtype="<f4", count=(b - a) // 4, offset=start + a).reshape(e["shape"])


def norm(x, eps=1e-5):
    c = x - x.mean(-1, keepdims=True)
    return c / np.sqrt((c * c).mean(-1, keepdims=True) + eps)


def gelu_new(x):
    return np.float32(0.5) * x * (np.float32(1) + np.tanh(np.float32(math.sqrt(2 / math.pi)) * (x + np.float32(0.044715) * x * x * x)))


def main(path, prompts_path, out):
    header, start = read_header(path)
    prompts = np.array(json.load(open(prompts_path)), dtype=np.int64)
    B, T = prompts.shape
    L = 1 + max(int(k.split(".")[1]) for k in header if k.startswith("h."))
    d = header["wte.weight"]["shape"][1]
    H = d // 64
    dh = d // H
    t_all = time.perf_counter()
    c_all = time.process_time()
    read = 0.0
    wte = load(path, header, start, "wte.weight")
    x = (wte[prompts.reshape(-1)] + load(path, header, start, "wpe.weight")[:T][None].repeat(B, 0).reshape(B * T, d)).astype(np.float32)
    del wte
    mask = np.triu(np.ones((T, T), bool), 1)
    captured = []
    for l in range(L):
        z = norm(x)
        captured.append(z)
        if l == L - 1:
            break
        r0 = time.perf_counter()
        W = {k: load(path, header, start, f"h.{l}.{k}") for k in (
            "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
            "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")}
        read += time.perf_counter() - r0
        qkv = (z * W["ln_1.weight"] + W["ln_1.bias"]) @ W["attn.c_attn.weight"] + W["attn.c_attn.bias"]
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(B, T, H, dh).transpose(0, 2, 1, 3) for i in range(3))
        s = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1 / math.sqrt(dh))
        s[..., mask] = -np.inf
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(B * T, d)
        x = x + a @ W["attn.c_proj.weight"] + W["attn.c_proj.bias"]
        h = gelu_new((norm(x) * W["ln_2.weight"] + W["ln_2.bias"]) @ W["mlp.c_fc.weight"] + W["mlp.c_fc.bias"])
        x = x + h @ W["mlp.c_proj.weight"] + W["mlp.c_proj.bias"]
    total = time.perf_counter() - t_all
    cpu = time.process_time() - c_all
    captured[-1].astype("<f4").tofile(out)
    print(json.dumps({"numpy": np.__version__, "seconds": total, "cpu_seconds": cpu, "read_seconds": read, "layers": L, "B": B, "T": T}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
