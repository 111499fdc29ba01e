/**
 * @module services/decompose-head
 * One head's SVD, end to end but without I/O: factors in the requested variant, the WebAssembly
 * factored SVD, the checks it ran, and the two things that get stored — the JSON summary and the
 * U, S, V safetensors. services/head-results.ts calls this; it never imports Hono or touches storage.
 */
import type { Kernels, Svd, SvdDiagnostics } from "../kernels/types";
import { encodeSafetensors } from "../wire/safetensors";
import type { HeadOptions, HeadPath } from "../wire/head-request";
import type { SvdSummary } from "../wire/svd-result";
import { headSvd } from "./head-factors";
import type { HeadWeights } from "./head-weights";

export interface DecomposedHead {
  summary: SvdSummary;
  /** the vectors file to store; absent with `vectors=none` */
  vectors?: Uint8Array;
  /** the SVD itself (token readouts read its vectors) */
  svd: Svd;
}

export interface InputFacts {
  sha256: string;
  bytes: number;
}

/** exp(H(σ/Σσ)); 0 for the zero matrix. */
export function effectiveRank(s: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < s.length; i++) total += s[i];
  if (total === 0) return 0;
  let h = 0;
  for (let i = 0; i < s.length; i++) {
    const p = s[i] / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

export function summarizeSpectrum(s: ArrayLike<number>) {
  let sq = 0;
  for (let i = 0; i < s.length; i++) sq += s[i] * s[i];
  return {
    effective_rank: effectiveRank(s),
    frobenius_norm: Math.sqrt(sq),
    top_energy: sq === 0 ? 0 : (s[0] * s[0]) / sq,
  };
}

/**
 * The checks the kernel ran on this result, with the values it measured and the limits it applied
 * (assembly/svd/factored.ts: residual and orthogonality against factor·ε·max(m, n), factor 8 for the
 * Cholesky QR path and 64 for Householder; Jacobi's off-orthogonality against √k·ε). A result that
 * failed any of them never gets here: the kernel's status turns into a not-converged problem.
 */
export function kernelChecks(dg: SvdDiagnostics) {
  const check = (name: string, value: number, limit: number) => ({ name, value, limit, passed: value <= limit });
  return [
    check("core_residual", dg.coreResidual, dg.checkLimit),
    check("orthogonality_U", dg.orthogonalityU, dg.checkLimit),
    check("orthogonality_V", dg.orthogonalityV, dg.checkLimit),
    check("jacobi_off_orthogonality", dg.offOrthogonality, dg.offOrthogonalityLimit),
  ];
}

export function decomposeHead(
  kernels: Kernels,
  path: HeadPath,
  weights: HeadWeights,
  options: HeadOptions,
  input: InputFacts,
  /** where the vectors will be stored (ResultStore.vectorsKey, for the dtype `options.vectors` asks), recorded in the summary */
  vectorsKey: string,
): DecomposedHead {
  const { svd, variant, norms } = headSvd(kernels, weights, options);
  const { m, k, diagnostics: dg } = svd;
  const policy = options.vectors ?? "f32";
  const dtype = policy === "f16" ? "F16" : "F32";
  const summary: SvdSummary = {
    schema: "headscope.svd/v1",
    model: path.model,
    layer: path.layer,
    head: path.head,
    circuit: path.circuit,
    variant,
    d_model: weights.dModel,
    d_head: weights.dHead,
    singular_values: Array.from(svd.S),
    ...summarizeSpectrum(svd.S),
    factor_norms: norms,
    numerical_rank: dg.rank,
    checks: kernelChecks(dg),
    diagnostics: { sweeps: dg.sweeps, off_orthogonality: dg.offOrthogonality },
    input: { sha256: input.sha256, bytes: input.bytes, dtypes: weights.dtypes },
    kernel: { name: kernels.name, simd: kernels.simd ?? false },
    vectors:
      policy === "none"
        ? null
        : { key: vectorsKey, format: "safetensors", tensors: { U: [m, k], S: [k], V: [m, k] }, dtype: { U: dtype, S: "F64", V: dtype } },
  };
  if (policy === "none") return { summary, svd };
  const vectors = encodeSafetensors(
    {
      U: { dtype, shape: [m, k], data: svd.U },
      S: { dtype: "F64", shape: [k], data: svd.S },
      V: { dtype, shape: [m, k], data: svd.V },
    },
    {
      schema: "headscope.svd-vectors/v1",
      model: path.model,
      layer: String(path.layer),
      head: String(path.head),
      circuit: path.circuit,
      variant: variant.name,
      input_sha256: input.sha256,
      convention: "circuit = U diag(S) V^T; rows are d_model (+1 when augmented), columns are singular indices",
    },
  );
  return { summary, vectors, svd };
}
