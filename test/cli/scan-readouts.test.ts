/**
 * Token readouts (issue 13 item 1) end to end: the CLI builds a small synthetic GPT-2 checkpoint's
 * readout basis (written by this test: embedding, final LayerNorm, tied or separate unembedding),
 * uploads it in several chunks to the real local worker (workerd, local R2 and KV), and every head's
 * answer carries the top and bottom k tokens of its leading singular vectors. Each listed score is
 * checked against a float64 computation here from the checkpoint's own tensors and the stored U and V
 * (folded and unfolded, with and without the augmented bias coordinate, tied and untied unembedding),
 * and nothing better than the listed tokens was left out (up to the F16 rounding of the basis).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { startLocalWorker } from "../../src/cli/local-worker";
import { gpt2Tokenizer } from "../../src/model/tokenizer";
import { decodeFloat, parseSafetensors } from "../../src/wire/safetensors";
import { ROOT, runCli } from "../support/cli";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";

const tmp = mkdtempSync(join(tmpdir(), "headscope-readouts-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const D = 32, H = 2, L = 2, VOCAB = 300, EPS = 1e-5, K = 5, N = 3;
const json = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));

function model(seed: number, tied: boolean) {
  const r = rng(seed);
  const g = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => gaussian(r)) });
  const around = (c: number, s: number, n: number): RawTensor => ({ shape: [n], data: Float64Array.from({ length: n }, () => c + s * gaussian(r)) });
  const t: Record<string, RawTensor> = { "wte.weight": g(VOCAB, D), "wpe.weight": g(16, D), "ln_f.weight": around(1, 0.4, D), "ln_f.bias": around(0, 0.2, D) };
  // a few tokens share the mean direction, so the centring of the basis matters
  for (let v = 0; v < 8; v++) for (let i = 0; i < D; i++) t["wte.weight"].data[v * D + i] += 3;
  if (!tied) t["lm_head.weight"] = g(VOCAB, D);
  for (let l = 0; l < L; l++) {
    t[`h.${l}.ln_1.weight`] = around(1, 0.5, D);
    t[`h.${l}.ln_1.bias`] = around(0, 0.3, D);
    t[`h.${l}.attn.c_attn.weight`] = g(D, 3 * D);
    t[`h.${l}.attn.c_attn.bias`] = around(0, 0.5, 3 * D);
    t[`h.${l}.attn.c_proj.weight`] = g(D, D);
    t[`h.${l}.attn.c_proj.bias`] = around(0, 0.1, D);
  }
  return t;
}

const config = (tied: boolean) => ({ model_type: "gpt2", n_embd: D, n_head: H, n_layer: L, layer_norm_epsilon: EPS, vocab_size: VOCAB, tie_word_embeddings: tied });

/** z_t = (e_t − mean)/√(var + ε), in float64 from the checkpoint's values. */
function normalisedRows(e: Float64Array) {
  const z = new Float64Array(e.length);
  for (let t = 0; t < VOCAB; t++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += e[t * D + i];
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (e[t * D + i] - mean) ** 2;
    const s = Math.sqrt(v / D + EPS);
    for (let i = 0; i < D; i++) z[t * D + i] = (e[t * D + i] - mean) / s;
  }
  return z;
}

function unembeddingRows(w: Float64Array, gamma: Float64Array) {
  const out = new Float64Array(w.length);
  for (let t = 0; t < VOCAB; t++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += (out[t * D + i] = w[t * D + i] * gamma[i]);
    mean /= D;
    for (let i = 0; i < D; i++) out[t * D + i] -= mean;
  }
  return out;
}

const scanDir = (name: string) => ({ out: join(tmp, `out-${name}`), state: join(tmp, `state-${name}`) });

async function scan(path: string, name: string, ...more: string[]) {
  return scanWith({}, path, name, ...more);
}

async function scanWith(env: Record<string, string>, path: string, name: string, ...more: string[]) {
  const { out, state } = scanDir(name);
  return runCli(["scan", path, "--out", out, "--state", state, "--model-name", `tiny-${name}`, "--progress", "quiet", "--no-html",
    "--readouts", String(N), "--readout-k", String(K), ...more], { env: { HEADSCOPE_READOUT_CHUNK_ROWS: "64", ...env } });
}

/** Checks every readout of a report against float64 scores computed here. */
async function checkReport(name: string, t: Record<string, RawTensor>, tied: boolean) {
  const { out, state } = scanDir(name);
  const report = json(out, "report.json");
  const z = normalisedRows(t["wte.weight"].data);
  const un = unembeddingRows((tied ? t["wte.weight"] : t["lm_head.weight"]).data, t["ln_f.weight"].data);
  const tok = gpt2Tokenizer();
  const w = await startLocalWorker({ root: ROOT, stateDir: state });
  let checked = 0;
  try {
    for (const e of report.entries) {
      const ro = e.readouts;
      expect(ro, `${e.layer}/${e.head}/${e.circuit}/${e.variant}`).toBeTruthy();
      expect([ro.k, ro.vectors]).toEqual([K, N]);
      expect(ro.sides.u.basis).toBe("embedding");
      expect(ro.sides.v.basis).toBe(e.circuit === "qk" ? "embedding" : "unembedding");
      const file = parseSafetensors(new Uint8Array(await (await fetch(`${w.url}${e.vectors}`)).arrayBuffer())).tensors;
      const U = decodeFloat(file.get("U")!);
      const V = decodeFloat(file.get("V")!);
      const [rows, R] = file.get("U")!.shape;
      const raw = e.variant.startsWith("raw");
      const gamma = t[`h.${e.layer}.ln_1.weight`].data;
      const beta = t[`h.${e.layer}.ln_1.bias`].data;
      /** float64 score of token row t against column i of M, as the head reads the token */
      const embScore = (M: Float32Array | Float64Array, i: number, tk: number) => {
        let s = rows > D ? M[D * R + i] : 0;
        for (let r = 0; r < D; r++) s += (raw ? gamma[r] * z[tk * D + r] + beta[r] : z[tk * D + r]) * M[r * R + i];
        return s;
      };
      const unScore = (M: Float32Array | Float64Array, i: number, tk: number) => {
        let s = 0;
        for (let r = 0; r < D; r++) s += un[tk * D + r] * M[r * R + i];
        return s;
      };
      const sides = [
        { items: ro.sides.u.items, score: (i: number, tk: number) => embScore(U, i, tk) },
        { items: ro.sides.v.items, score: (i: number, tk: number) => (e.circuit === "qk" ? embScore(V, i, tk) : unScore(V, i, tk)) },
      ];
      for (const side of sides) {
        expect(side.items.map((x: any) => x.index)).toEqual([1, 2, 3]);
        for (const item of side.items) {
          const i = item.index - 1;
          const all = Array.from({ length: VOCAB }, (_, tk) => side.score(i, tk));
          const scale = Math.max(...all.map(Math.abs));
          const tol = 3e-3 * scale; // the basis is stored in F16 (relative 2⁻¹¹ per entry)
          const sorted = [...all].sort((a, b) => b - a);
          for (const [list, best] of [[item.top, sorted], [item.bottom, [...sorted].reverse()]] as const) {
            expect(list).toHaveLength(K);
            list.forEach((x: any, p: number) => {
              expect(Math.abs(x.score - all[x.id])).toBeLessThanOrEqual(tol);
              expect(Math.abs(all[x.id] - best[p])).toBeLessThanOrEqual(2 * tol);
              expect(x.token).toBe(tok.decode([x.id]));
              checked++;
            });
          }
        }
      }
    }
  } finally {
    await w.stop();
  }
  return { report, checked };
}

describe("token readouts through the real local worker", () => {
  test("tied unembedding: qk folded and unfolded with the augmented bias, ov folded", async () => {
    const t = model(11, true);
    const path = writeCheckpoint(join(tmp, "tied"), t, { dtype: "F32", config: config(true) });
    const r = await scan(path, "tied", "--variants", "folded_augmented,raw_augmented,folded");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/readouts: basis of 300 tokens uploaded/);
    const { report, checked } = await checkReport("tied", t, true);
    expect(report.entries).toHaveLength(L * H * 4); // qk in three variants, ov folded (the augmented variants are qk only)
    expect(checked).toBe(report.entries.length * 2 * N * 2 * K);
    expect(report.scan.readouts).toMatchObject({ vectors: N, k: K, basis: { vocab: VOCAB, tokens: expect.stringMatching(/GPT-2/) } });
    expect(report.scan.readouts.basis.unembedding).toMatch(/wte\.weight \(tied\) × ln_f\.weight, centred/);
    // 5 chunks of ≤ 64 rows per matrix, both matrices, and the token strings
    expect(report.scan.readouts.basis.bytes).toBeGreaterThan(2 * VOCAB * D * 2);

    // again: nothing computed, the basis not sent again, the same report
    const again = await scan(path, "tied", "--variants", "folded_augmented,raw_augmented,folded");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/readouts: basis of 300 tokens already stored/);
    expect(json(scanDir("tied").out, "run.json")).toMatchObject({ computed: 0 });
    expect(json(scanDir("tied").out, "report.json").entries).toEqual(report.entries);

    // another k: the stored results lack it, so they are computed again with it
    const k4 = await scan(path, "tied", "--variants", "folded_augmented", "--readout-k", "4");
    expect(k4.code, k4.stderr).toBe(0);
    const rep4 = json(scanDir("tied").out, "report.json");
    expect(json(scanDir("tied").out, "run.json")).toMatchObject({ computed: L * H });
    expect(rep4.entries.every((e: any) => e.readouts.k === 4 && e.readouts.sides.u.items[0].top.length === 4)).toBe(true);
  }, 300_000);

  test("separate unembedding, folded and unfolded without bias", async () => {
    const t = model(12, false);
    const path = writeCheckpoint(join(tmp, "untied"), t, { dtype: "F32", config: config(false) });
    const r = await scan(path, "untied", "--variants", "folded,raw");
    expect(r.code, r.stderr).toBe(0);
    const { report } = await checkReport("untied", t, false);
    expect(report.entries).toHaveLength(L * H * 2 * 2);
    expect(report.scan.readouts.basis.unembedding).toMatch(/^lm_head\.weight × ln_f\.weight, centred/);
    // the worker keeps the basis chunks after their first read (READOUT_CACHE_MB, default 512 MiB):
    // read from R2 for every head instead, the same readouts
    const uncached = await scanWith({ HEADSCOPE_READOUT_CACHE_MB: "0" }, path, "untied-uncached", "--model-name", "tiny-untied", "--variants", "folded,raw");
    expect(uncached.code, uncached.stderr).toBe(0);
    expect(json(scanDir("untied-uncached").out, "report.json").entries).toEqual(report.entries);
  }, 300_000);

  test("--readouts 0 asks for none; a checkpoint without an embedding says why there are none", async () => {
    const t = model(13, true);
    const path = writeCheckpoint(join(tmp, "zero"), t, { dtype: "F32", config: config(true) });
    const r = await scan(path, "zero", "--variants", "folded", "--readouts", "0", "--circuits", "qk");
    expect(r.code, r.stderr).toBe(0);
    const rep = json(scanDir("zero").out, "report.json");
    expect(rep.entries.every((e: any) => e.readouts === undefined)).toBe(true);
    expect(rep.scan.readouts).toBeUndefined();
    const noEmb = Object.fromEntries(Object.entries(model(14, true)).filter(([n]) => n !== "wte.weight"));
    const p2 = writeCheckpoint(join(tmp, "noemb"), noEmb, { dtype: "F32", config: config(true) });
    const r2 = await scan(p2, "noemb", "--variants", "folded", "--circuits", "qk");
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toMatch(/readouts: none \(the checkpoint has no token embedding/);
    const rep2 = json(scanDir("noemb").out, "report.json");
    expect(rep2.scan.readouts).toBeUndefined();
    expect(rep2.entries.every((e: any) => e.readouts === null)).toBe(true);
  }, 300_000);
});

test("a readout basis upload that gets no answer passes its request deadline, is retried, and the scan goes on without readouts", async () => {
  const t = model(15, true);
  const path = writeCheckpoint(join(tmp, "stalled"), t, { dtype: "F32", config: config(true) });
  const { out, state } = scanDir("stalled");
  const t0 = Date.now();
  // the manifest PUT (…/readout-basis) never answers; at --deadline-scale 0.2 its deadline is about 2 s
  const r = await runCli(["scan", path, "--out", out, "--state", state, "--model-name", "tiny-stalled", "--progress", "plain", "--no-html",
    "--variants", "folded", "--circuits", "qk", "--retries", "1", "--retry-base-ms", "20", "--deadline-scale", "0.2"],
  { env: { HEADSCOPE_READOUT_CHUNK_ROWS: "64", HEADSCOPE_TEST_HOOKS: "stall:/readout-basis" } });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/retry 1\/1 PUT \/v1\/models\/tiny-stalled\/readout-basis: no answer within the request's deadline/);
  expect(r.stderr).toMatch(/readouts: none \(the basis upload failed: PUT \/v1\/models\/tiny-stalled\/readout-basis: no answer within the request's deadline of [\d.]+ s, 2 attempt\(s\)\)/);
  // well before the fixed five minutes the upload used to wait
  expect(Date.now() - t0).toBeLessThan(120_000);
  const run = json(out, "run.json");
  expect(run).toMatchObject({ computed: L * H, failed: 0 });
  expect(run.retries).toBeGreaterThanOrEqual(1);
  expect(json(out, "report.json").entries.every((e: any) => e.readouts === null)).toBe(true);
}, 180_000);
