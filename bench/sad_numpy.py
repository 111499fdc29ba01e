"""Vectorised numpy SAD with the same definitions as assembly/sparse/sad.ts (method §4), the speed
baseline of bench/sad.bench.ts. Reads one head's SVD, the token batch and the rotations from the
binary file the bench writes, times the full computation (singular basis and null), and prints JSON
with the timings and the results the bench cross-checks. Usage: python3 sad_numpy.py FILE"""
import json, sys, time
import numpy as np

def main(path):
    with open(path, "rb") as f:
        hdr = np.frombuffer(f.read(8 * 6), "<f8")
        B, T, M, R, NR = (int(v) for v in hdr[:5]); scale = float(hdr[5])
        rd = lambda n: np.frombuffer(f.read(8 * n), "<f8")
        X = rd(B * T * M).reshape(B, T, M); U = rd(M * R).reshape(M, R); S = rd(R)
        V = rd(M * R).reshape(M, R); Q = rd(NR * R * R).reshape(NR, R, R)
    tau = 1.0
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        # 2-D products: numpy 2.x sends a stacked [B, T, M] @ [M, R] to a slow non-BLAS loop
        X2 = X.reshape(B * T, M)
        XU = (X2 @ U).reshape(B, T, R); XV = (X2 @ V).reshape(B, T, R)
        a = XU * S; b = XV
        scores = a @ b.transpose(0, 2, 1)
        causal = np.tril(np.ones((T, T), bool))
        logits = np.where(causal, scores * scale, -np.inf)
        att = np.exp(logits - logits.max(2, keepdims=True)); att /= att.sum(2, keepdims=True)
        d_idx = np.arange(T)
        fire = (att >= 1.0 / (d_idx + 1)[None, :, None]) & causal
        fire[:, 0, :] = False; fire[:, :, 0] = False          # queries d >= 1, source 0 excluded
        bi, di, si = np.nonzero(fire)

        def decompose(a, b):
            bsum = np.cumsum(b, axis=1)
            rel = a[bi, di] * (b[bi, si] - (bsum[bi, di] - b[bi, si]) / di[:, None])
            total = rel.sum(1)
            pos = total > 0
            rel = rel[pos]; total = total[pos]
            c = np.cumsum(-np.sort(-rel, axis=1), axis=1)
            nrec = np.argmax(c >= tau * total[:, None] - 1e-12 * np.abs(total)[:, None], axis=1) + 1
            rt = np.mean(np.abs(rel), 1) ** 2 / np.mean(rel ** 2, 1)
            return int((~pos).sum()), nrec, rt

        nonpos, nrec, rt = decompose(a, b)
        XVs = XV * S
        rot = lambda Y, q: (Y.reshape(B * T, R) @ q).reshape(B, T, R)
        null = [decompose(rot(XU, q), rot(XVs, q)) for q in Q]
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print(json.dumps({
        "seconds": best, "numpy": np.__version__,
        "pairs_positive": int(len(nrec)), "pairs_nonpositive": nonpos,
        "n_recon_median": float(np.median(nrec)), "n_recon_p90": float(np.percentile(nrec, 90)),
        "rolls_tovee_median": float(np.median(rt)),
        "null_n_recon_median_mean": float(np.mean([np.median(n[1]) for n in null])),
    }))

main(sys.argv[1])
