/**
 * @module services/analyze-upload
 * The demo's anonymous analysis: one small head in, its spectrum out, nothing stored. Same parsing,
 * variants and kernel as the stored endpoint, so a visitor sees exactly what a scan would compute.
 */
import { InvalidRequest } from "../errors";
import type { Kernels } from "../kernels/types";
import { CIRCUITS, type Circuit, type HeadOptions } from "../wire/head-request";
import type { ParsedSafetensors } from "../wire/safetensors";
import { summarizeSpectrum } from "./decompose-head";
import { headSvd } from "./head-factors";
import { readHeadWeights } from "./head-weights";

/** The circuit the tensors describe: W_Q/W_K → qk, W_V/W_O → ov. */
export function inferCircuit(parsed: ParsedSafetensors, asked?: string): Circuit {
  if (asked !== undefined) {
    if (!(CIRCUITS as readonly string[]).includes(asked)) throw new InvalidRequest(`circuit must be qk or ov, got ${asked}`, { parameter: "circuit" });
    return asked as Circuit;
  }
  const names = parsed.tensors;
  if (names.has("W_Q") || names.has("W_K")) return "qk";
  if (names.has("W_V") || names.has("W_O")) return "ov";
  throw new InvalidRequest("send W_Q and W_K (qk) or W_V and W_O (ov)", { tensors: [...names.keys()] });
}

export function analyzeUpload(kernels: Kernels, parsed: ParsedSafetensors, circuit: Circuit, options: HeadOptions) {
  const weights = readHeadWeights(circuit, parsed);
  const { svd, variant } = headSvd(kernels, weights, options);
  return {
    schema: "headscope.demo-analysis/v1",
    stored: false,
    circuit,
    variant,
    d_model: weights.dModel,
    d_head: weights.dHead,
    singular_values: Array.from(svd.S),
    ...summarizeSpectrum(svd.S),
    numerical_rank: svd.diagnostics.rank,
    diagnostics: svd.diagnostics,
    kernel: { name: kernels.name, simd: kernels.simd ?? false },
  };
}
