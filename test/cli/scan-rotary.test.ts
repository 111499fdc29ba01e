/**
 * A Llama-layout checkpoint (GQA, RMSNorm, full rotary) through the real CLI and local worker, with
 * --rotary-offsets 0,5: the folded qk spectra equal the singular values of the dense
 * Ω_Δ = diag(γ) W_Q R_Δ W_Kᵀ diag(γ) built from the Hugging Face tensors with apply_rotary_pos_emb
 * (query at position Δ, key at 0), results for Δ ≠ 0 are stored under <model>.rot<Δ>, and the
 * RMSNorm fold is recorded as not centred.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { afterAll, expect, test } from "vitest";
import { runCli } from "../support/cli";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { gaussian, rng } from "../support/matrices";

const tmp = mkdtempSync(join(tmpdir(), "headscope-rotary-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const D = 32;
const NH = 4;
const NKV = 2;
const DH = 8;
const BASE = 10000;
const r = rng(11);
const rand = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.3 * gaussian(r)) });

/** Hugging Face rotate_half rotary on one head vector at position p. */
const rope = (v: number[], p: number) => {
  const half = DH / 2;
  const out = v.slice();
  for (let i = 0; i < half; i++) {
    const th = p * BASE ** (-(2 * i) / DH);
    out[i] = v[i] * Math.cos(th) - v[i + half] * Math.sin(th);
    out[i + half] = v[i + half] * Math.cos(th) + v[i] * Math.sin(th);
  }
  return out;
};

test("llama GQA + RMSNorm + rotary offsets through the worker equal the dense Ω_Δ", async () => {
  const t: Record<string, RawTensor> = {
    "model.layers.0.input_layernorm.weight": { shape: [D], data: Float64Array.from({ length: D }, () => 1 + 0.2 * gaussian(r)) },
    "model.layers.0.self_attn.q_proj.weight": rand(NH * DH, D),
    "model.layers.0.self_attn.k_proj.weight": rand(NKV * DH, D),
    "model.layers.0.self_attn.v_proj.weight": rand(NKV * DH, D),
    "model.layers.0.self_attn.o_proj.weight": rand(D, NH * DH),
  };
  const path = writeCheckpoint(join(tmp, "llama"), t, {
    dtype: "F32", config: { model_type: "llama", num_attention_heads: NH, num_key_value_heads: NKV, rope_theta: BASE },
  });
  const out = join(tmp, "out");
  const res = await runCli(["scan", path, "--out", out, "--state", join(tmp, "state"), "--model-name", "tiny-llama",
    "--circuits", "qk", "--rotary-offsets", "0,5", "--progress", "quiet"]);
  expect(res.code, res.stderr).toBe(0);
  const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
  expect(report.facts).toMatchObject({ architecture: "llama", n_kv_heads: NKV, norm: "rmsnorm", rotary_dim: DH, kv_head_of: [0, 0, 1, 1] });
  expect(report.entries).toHaveLength(NH * 2);

  const gamma = t["model.layers.0.input_layernorm.weight"].data;
  const q = t["model.layers.0.self_attn.q_proj.weight"].data;
  const k = t["model.layers.0.self_attn.k_proj.weight"].data;
  for (const e of report.entries) {
    expect(e).toMatchObject({ variant: "folded", centred: false, kv_head: Math.floor(e.head / 2) });
    expect(e.vectors).toContain(e.rotary_offset ? "/models/tiny-llama.rot5/" : "/models/tiny-llama/");
    // dense Ω_Δ[i][j] = rope(q(γ_i e_i), Δ) · rope(k(γ_j e_j), 0), straight from the HF tensors
    const head = (w: Float64Array, h: number, x: number[]) =>
      Array.from({ length: DH }, (_, o) => x.reduce((s, xi, i) => s + xi * w[(h * DH + o) * D + i], 0));
    const unit = (i: number) => Array.from({ length: D }, (_, j) => (j === i ? gamma[i] : 0));
    const qs = [...Array(D).keys()].map((i) => rope(head(q, e.head, unit(i)), e.rotary_offset));
    const ks = [...Array(D).keys()].map((j) => rope(head(k, e.kv_head, unit(j)), 0));
    const omega = new Matrix(qs.map((qi) => ks.map((kj) => qi.reduce((s, v, m) => s + v * kj[m], 0))));
    const s = new SingularValueDecomposition(omega, { computeLeftSingularVectors: false, computeRightSingularVectors: false }).diagonal;
    for (let m = 0; m < DH; m++) expect(Math.abs(e.singular_values[m] - s[m]) / s[0]).toBeLessThan(1e-5);
  }
  // Δ changes the spectrum (the rotation is not absorbed by the SVD in general)
  const s0 = report.entries.find((e: any) => e.head === 0 && e.rotary_offset === 0).singular_values;
  const s5 = report.entries.find((e: any) => e.head === 0 && e.rotary_offset === 5).singular_values;
  expect(Math.max(...s0.map((v: number, i: number) => Math.abs(v - s5[i]) / s0[0]))).toBeGreaterThan(1e-3);
}, 120_000);
