"""An independent numpy port of the toy model of method §6 (src/toy/*.ts), written from the method page:
the speed baseline of bench/toy.bench.ts and the reference a seed-for-seed comparison is held against.

Dense batched arithmetic (one matrix product per pass, as a numpy user would write it), hand-derived
gradients, token-side anisotropy (the head reads r = (W + c e 1ᵀ) f, the decoder reconstructs from W f),
AdamW (PyTorch's update order) with 200 warm-up steps and cosine decay to 5 %, W ~ N(0, 1/D), head factors
~ N(0, (0.3/√D)²), co-occurrence in half the attention samples; float32 by default (--dtype float64 to test
the precision suspect). Its random stream is numpy's (PCG64), not the project's, so a seed here and a seed
there are different draws of the same experiment.

Usage: python3 bench/toy_numpy.py --config many-pairs [--seeds 0,1,2] [--steps N] [--anisotropy C]
       [--dtype float32|float64] [--check-gradients]
       python3 bench/toy_numpy.py --config many-pairs --replay FIFO [--dtypes float32,float64] [--out FILE]
       (the last: started by bench/toy-compare.ts, which streams the project's own initial weights and
       batches, so the trajectories can be compared step by step)
Prints one JSON line per seed: training steps/s (measurement excluded) and the final measurements
(mean matched |cos|, matched counts at 0.9 and 0.8, Spearman, mean pairwise feature and token cosine).
"""
import argparse, json, math, sys, time
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr


def config(name):
    shared = dict(m=8, batch=1024, cooc=0.5, lr=3e-3, warmup=200, floor=0.05, wd=1e-2, b1=0.9, b2=0.999, eps=1e-8)
    if name == "single-pair":
        return dict(shared, N=20, D=10, H=10, pairs=[(0, 1, 1.0)], p=0.05, lam=1.0, beta=5.0, steps=3000)
    pairs = [(i, i + 20, 1 - i / 20) for i in range(20)]
    cfg = dict(shared, N=100, D=50, H=50, pairs=pairs, p=0.2, lam=30.0, beta=10.0, steps=5000)
    if name == "crowded":
        cfg["H"] = 10
    return cfg


def sample(rng, n_tok, N, p, dt):
    """Each feature on with probability p, then uniform on [0, 1): one uniform u per entry, f = u/p when u < p."""
    u = rng.random((n_tok, N))  # drawn in float64 whatever dt, so float32 and float64 runs see the same data
    return np.where(u < p, u / p, 0.0).astype(dt)


def attention_batch(rng, cfg, dt):
    B, m, N = cfg["batch"], cfg["m"], cfg["N"]
    Q = sample(rng, B, N, cfg["p"], dt)
    K = sample(rng, B * m, N, cfg["p"], dt).reshape(B, m, N)
    with_pair = rng.random(B) < cfg["cooc"]
    which = rng.integers(0, len(cfg["pairs"]), B)
    slot = rng.integers(0, m, B)
    for b in np.nonzero(with_pair)[0]:
        a, k, _ = cfg["pairs"][which[b]]
        Q[b, a] = rng.random()
        K[b, slot[b], k] = rng.random()
    return Q, K


def loss_and_grads(P, T, e, c, cfg, F, Q, K):
    """Losses and gradients of L = L_recon + λ CE (method §6), batched."""
    W, b, WQ, WK = P["W"], P["b"], P["WQ"], P["WK"]
    B, m, N = K.shape
    # reconstruction from W f (the decoder never sees the shift)
    R = F @ W.T
    Z = R @ W + b
    Fp = np.maximum(Z, 0)
    diff = Fp - F
    recon = float((diff * diff).sum()) / F.shape[0]
    dZ = (2.0 / F.shape[0]) * diff * (Z > 0)
    dW = R.T @ dZ + (dZ @ W.T).T @ F
    db = dZ.sum(0)
    # attention on tokens (W + c e 1ᵀ) f
    Wf = W + c * e[:, None]
    XQ = Q @ Wf.T                       # [B, D]
    XK = K.reshape(B * m, N) @ Wf.T     # [B m, D]
    q = XQ @ WQ                         # [B, H]
    k = (XK @ WK).reshape(B, m, -1)     # [B, m, H]
    logits = np.einsum("bh,bmh->bm", q, k)
    target = cfg["beta"] * np.einsum("bn,bmn->bm", Q @ T, K)
    lse = lambda x: x.max(1, keepdims=True) + np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True))
    logp = logits - lse(logits)
    pt = np.exp(target - lse(target))
    ce = float(-(pt * logp).sum()) / B
    dl = (cfg["lam"] / B) * (np.exp(logp) - pt)          # [B, m]
    dq = np.einsum("bm,bmh->bh", dl, k)
    dk = (dl[:, :, None] * q[:, None, :]).reshape(B * m, -1)
    dWQ = XQ.T @ dq
    dWK = XK.T @ dk
    dW += (dq @ WQ.T).T @ Q + (dk @ WK.T).T @ K.reshape(B * m, N)
    return recon, ce, {"W": dW, "b": db, "WQ": dWQ, "WK": dWK}


def lr_at(t, cfg):
    if t < cfg["warmup"]:
        return cfg["lr"] * (t + 1) / cfg["warmup"]
    prog = min(1.0, (t - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"]))
    lo = cfg["lr"] * cfg["floor"]
    return lo + 0.5 * (cfg["lr"] - lo) * (1 + math.cos(math.pi * prog))


def measure(P, e, c, cfg, rng):
    W = P["W"].astype(np.float64) + c * e[:, None].astype(np.float64)
    omega = P["WQ"].astype(np.float64) @ P["WK"].astype(np.float64).T
    U, S, Vt = np.linalg.svd(omega)
    Fh = (W / np.linalg.norm(W, axis=0)).T              # unit features as rows
    cu, cv = np.abs(Fh @ U), np.abs(Fh @ Vt.T)
    pairs = cfg["pairs"]
    top = min(len(pairs), cfg["H"], cfg["D"])
    score = np.array([[math.sqrt(cu[a, j] * cv[k, j]) for j in range(top)] for a, k, _ in pairs])
    rows, cols = linear_sum_assignment(-score)
    idx = -np.ones(len(pairs), int)
    idx[rows] = cols
    mu = np.array([cu[a, j] if j >= 0 else 0 for (a, _, _), j in zip(pairs, idx)])
    mv = np.array([cv[k, j] if j >= 0 else 0 for (_, k, _), j in zip(pairs, idx)])
    G = Fh @ Fh.T
    n = G.shape[0]
    off = G[np.triu_indices(n, 1)]
    toks = sample(rng, 256, cfg["N"], cfg["p"], np.float64) @ W.T
    toks = toks[np.linalg.norm(toks, axis=1) > 0]
    toks /= np.linalg.norm(toks, axis=1, keepdims=True)
    tg = toks @ toks.T
    vals = [v for _, _, v in pairs]
    sig = [S[j] if j >= 0 else 0 for j in idx]
    return {
        "matchedMean": float(((mu + mv) / 2).mean()),
        "matched09": int(((mu >= 0.9) & (mv >= 0.9)).sum()),
        "matched08": int(((mu >= 0.8) & (mv >= 0.8)).sum()),
        "spearman": float(spearmanr(vals, sig).correlation) if len(pairs) > 1 else None,
        "top1CosU": float(cu[pairs[0][0], 0]), "top1CosV": float(cv[pairs[0][1], 0]),
        "sigmaRatio": float(S[0] / S[1]),
        "meanPairwiseCos": float(off.mean()),
        "meanTokenCos": float(tg[np.triu_indices(tg.shape[0], 1)].mean()),
    }


def template(cfg, dt):
    T = np.zeros((cfg["N"], cfg["N"]), dt)
    for a, k, v in cfg["pairs"]:
        T[a, k] = v
    return T


class AdamW:
    """AdamW in PyTorch's update order, decoupled weight decay on W_Q and W_K, the method's schedule."""

    def __init__(self, P, cfg, dt):
        self.cfg, self.dt = cfg, dt
        self.mom = {k: np.zeros_like(v) for k, v in P.items()}
        self.vel = {k: np.zeros_like(v) for k, v in P.items()}

    def step(self, P, g, t):
        cfg, dt = self.cfg, self.dt
        lr = lr_at(t, cfg)
        c1, c2 = 1 - cfg["b1"] ** (t + 1), 1 - cfg["b2"] ** (t + 1)
        for name in P:
            if name in ("WQ", "WK"):
                P[name] *= dt(1 - lr * cfg["wd"])
            self.mom[name] = cfg["b1"] * self.mom[name] + (1 - cfg["b1"]) * g[name]
            self.vel[name] = cfg["b2"] * self.vel[name] + (1 - cfg["b2"]) * g[name] * g[name]
            P[name] -= (lr * (self.mom[name] / c1) / (np.sqrt(self.vel[name] / c2) + cfg["eps"])).astype(dt)


def train(cfg, seed, c, dt):
    rng = np.random.default_rng(seed)
    N, D, H = cfg["N"], cfg["D"], cfg["H"]
    P = {
        "W": (rng.standard_normal((D, N)) / math.sqrt(D)).astype(dt),
        "b": np.zeros(N, dt),
        "WQ": (rng.standard_normal((D, H)) * 0.3 / math.sqrt(D)).astype(dt),
        "WK": (rng.standard_normal((D, H)) * 0.3 / math.sqrt(D)).astype(dt),
    }
    e = rng.standard_normal(D)
    e = (e / np.linalg.norm(e)).astype(dt)
    T = template(cfg, dt)
    opt = AdamW(P, cfg, dt)
    t0 = time.perf_counter()
    for t in range(cfg["steps"]):
        F = sample(rng, cfg["batch"], N, cfg["p"], dt)
        Q, K = attention_batch(rng, cfg, dt)
        recon, ce, g = loss_and_grads(P, T, e, c, cfg, F, Q, K)
        opt.step(P, g, t)
    seconds = time.perf_counter() - t0
    out = {"seed": seed, "anisotropy": c, "dtype": np.dtype(dt).name, "steps": cfg["steps"], "trainSeconds": seconds,
           "stepsPerSecond": cfg["steps"] / seconds, "recon": recon, "ce": ce}
    out.update(measure(P, e, c, cfg, np.random.default_rng(seed ^ 0x70C3)))
    return out


class Stream:
    """The project's replay stream (bench/toy-compare.ts writes it; little-endian): a header (magic, N, D, H,
    m, steps, c, then the project's initial W [D, N], b, W_Q, W_K [D, H] and e [D] in float64), then per step
    (step, has_params, recon tokens, recon nnz, attention tokens, attention nnz), the project's parameters at
    that step when has_params, and both batches as compressed sparse rows (ptr int32, feature int32, value
    float64); step -1 ends it, followed by the project's final parameters."""

    MAGIC = 0x544F5931

    def __init__(self, path):
        self.f = open(path, "rb", buffering=1 << 22)

    def ints(self, n):
        return np.frombuffer(self.f.read(4 * n), "<i4")

    def floats(self, n):
        return np.frombuffer(self.f.read(8 * n), "<f8")

    def header(self):
        magic, N, D, H, m, steps = (int(x) for x in self.ints(6))
        if magic != self.MAGIC:
            raise SystemExit(f"replay stream: bad magic {magic:#x}")
        c = float(self.floats(1)[0])
        return dict(N=N, D=D, H=H, m=m, steps=steps, c=c), self.params(N, D, H), self.floats(D).copy()

    def params(self, N, D, H):
        return {"W": self.floats(D * N).reshape(D, N).copy(), "b": self.floats(N).copy(),
                "WQ": self.floats(D * H).reshape(D, H).copy(), "WK": self.floats(D * H).reshape(D, H).copy()}

    def dense(self, tokens, nnz, N):
        ptr = self.ints(tokens + 1)
        idx = self.ints(nnz)
        val = self.floats(nnz)
        out = np.zeros((tokens, N))
        out[np.repeat(np.arange(tokens), np.diff(ptr)), idx] = val
        return out


def replay(cfg, path, dtypes, out):
    """Trains one numpy model per dtype on the project's initial weights and batches, comparing parameters
    with the project's at every step it sends them (relative Frobenius differences of W and of Ω = W_Q W_Kᵀ)
    and measuring each model as `train` does."""
    st = Stream(path)
    h, P0, e = st.header()
    N, D, H, m = h["N"], h["D"], h["H"], h["m"]
    if (N, D, H, m) != (cfg["N"], cfg["D"], cfg["H"], cfg["m"]):
        raise SystemExit(f"replay stream shape {(N, D, H, m)} is not --config's {(cfg['N'], cfg['D'], cfg['H'], cfg['m'])}")
    cfg = dict(cfg, steps=h["steps"])
    c = h["c"]
    models = {}
    for name in dtypes:
        dt = np.float32 if name == "float32" else np.float64
        P = {k: v.astype(dt) for k, v in P0.items()}
        models[name] = (dt, P, AdamW(P, cfg, dt), template(cfg, dt), e.astype(dt))
    sink = open(out, "w") if out else sys.stdout
    seconds = 0.0

    def compare(step, Pp, final=False):
        omega_p = Pp["WQ"] @ Pp["WK"].T
        for name, (dt, P, _, _, _) in models.items():
            W = P["W"].astype(np.float64)
            omega = P["WQ"].astype(np.float64) @ P["WK"].astype(np.float64).T
            row = {"step": step, "dtype": name, "final": final,
                   "relW": float(np.linalg.norm(W - Pp["W"]) / np.linalg.norm(Pp["W"])),
                   "relOmega": float(np.linalg.norm(omega - omega_p) / np.linalg.norm(omega_p))}
            row.update(measure(P, e, c, cfg, np.random.default_rng(0x70C3)))
            print(json.dumps(row), file=sink, flush=True)

    while True:
        step, has_params, rt, rn, at, an = (int(x) for x in st.ints(6))
        if step < 0:
            compare(cfg["steps"], st.params(N, D, H), final=True)
            break
        if has_params:
            compare(step, st.params(N, D, H))
        F = st.dense(rt, rn, N)
        A = st.dense(at, an, N).reshape(at // (m + 1), m + 1, N)
        t0 = time.perf_counter()
        for name, (dt, P, opt, T, ed) in models.items():
            Fd, Ad = F.astype(dt), A.astype(dt)
            _, _, g = loss_and_grads(P, T, ed, c, cfg, Fd, np.ascontiguousarray(Ad[:, 0]), np.ascontiguousarray(Ad[:, 1:]))
            opt.step(P, g, step)
        seconds += time.perf_counter() - t0
    print(json.dumps({"replaySeconds": seconds, "steps": cfg["steps"], "dtypes": list(models)}), file=sink, flush=True)


def check_gradients():
    """Central finite differences (float64) on a tiny configuration: the port's gradients are right."""
    rng = np.random.default_rng(1)
    cfg = dict(config("many-pairs"), N=7, D=4, H=3, pairs=[(0, 1, 1.0), (2, 4, 0.7)], p=0.4, m=3, batch=5, lam=2.0, beta=3.0)
    P = {"W": rng.standard_normal((4, 7)), "b": 0.2 * rng.standard_normal(7), "WQ": rng.standard_normal((4, 3)), "WK": rng.standard_normal((4, 3))}
    e = rng.standard_normal(4); e /= np.linalg.norm(e)
    T = np.zeros((7, 7)); T[0, 1] = 1; T[2, 4] = 0.7
    F = sample(rng, 5, 7, 0.4, np.float64); Q, K = attention_batch(rng, cfg, np.float64)
    _, _, g = loss_and_grads(P, T, e, 0.3, cfg, F, Q, K)
    worst = 0.0
    for name, x in P.items():
        for i in np.ndindex(x.shape):
            keep = x[i]
            x[i] = keep + 1e-6; up = sum(loss_and_grads(P, T, e, 0.3, cfg, F, Q, K)[:2] * np.array([1, cfg["lam"]]))
            x[i] = keep - 1e-6; dn = sum(loss_and_grads(P, T, e, 0.3, cfg, F, Q, K)[:2] * np.array([1, cfg["lam"]]))
            x[i] = keep
            fd = (up - dn) / 2e-6
            worst = max(worst, abs(fd - g[name][i]) / max(1, abs(fd)))
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="many-pairs", choices=["single-pair", "many-pairs", "crowded"])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--anisotropy", type=float, default=0.0)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--check-gradients", action="store_true")
    ap.add_argument("--replay", metavar="FIFO", help="train on the project's initial weights and batches from this stream (bench/toy-compare.ts)")
    ap.add_argument("--dtypes", default="float32,float64", help="with --replay: one model per dtype")
    ap.add_argument("--out", help="with --replay: JSON lines here instead of stdout")
    a = ap.parse_args()
    if a.check_gradients:
        worst = check_gradients()
        print(json.dumps({"gradientCheckWorstRelError": worst}))
        sys.exit(0 if worst < 1e-6 else 1)
    cfg = config(a.config)
    if a.replay:
        replay(cfg, a.replay, a.dtypes.split(","), a.out)
        return
    if a.steps:
        cfg["steps"] = a.steps
    dt = np.float32 if a.dtype == "float32" else np.float64
    for s in (int(x) for x in a.seeds.split(",")):
        print(json.dumps(dict(train(cfg, s, a.anisotropy, dt), numpy=np.__version__)), flush=True)


if __name__ == "__main__":
    main()
