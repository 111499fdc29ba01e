/**
 * @module view/metrics
 * What each number on the pages means, in one place: report.html and the demo page print this list
 * (plain data and an HTML string, no DOM, so the CLI and the worker render it server-side).
 */

export const METRICS: Array<{ term: string; definition: string }> = [
  { term: "QK, OV", definition: "the circuits Ω = W_Q W_Kᵀ (which token pairs attend) and W_V W_O (what is written), in the variant named (method §3: LayerNorm folded and centred, bias augmented)" },
  { term: "σ_k", definition: "the k-th singular value of the circuit, from the factored SVD (never forming the d_model × d_model product); σ₁ is the largest" },
  { term: "σ₂/σ₁", definition: "how far the second direction is behind the first (1: tied, near 0: one direction dominates)" },
  { term: "effective rank", definition: "exp of the Shannon entropy of σ/Σσ (Roy & Vetterli 2007): 1 when one direction carries everything, d_head when all are equal" },
  { term: "σ₁²/Σσ²", definition: "the share of the squared Frobenius norm in the top direction (top energy)" },
  { term: "numerical rank", definition: "the number of σ_k above max(m, n)·ε·σ₁" },
  { term: "checks", definition: "the kernel's own checks: core residual and orthogonality of U and V against factor·ε·max(m, n), Jacobi off-orthogonality against √k·ε; a result failing one is never stored" },
  { term: "null band", definition: "σ_k of Gaussian factors of the head's shapes scaled to its factor norms ‖A‖_F, ‖B‖_F: 5–95 % quantiles over 8 seeded draws; a spectrum above the band has structure a random head of that size lacks" },
  { term: "token readouts", definition: "for each singular vector, the tokens whose embedding (OV output side: unembedding) rows score highest and lowest against it" },
  { term: "N_recon (SAD)", definition: "how many of the largest singular terms it takes to reach an attention score (method §4); the null rotates the singular basis at random" },
];

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

export const metricsHtml = () =>
  `<dl class="metrics" id="metrics">${METRICS.map((m) => `<dt>${esc(m.term)}</dt><dd>${esc(m.definition)}</dd>`).join("")}</dl>`;
