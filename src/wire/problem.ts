/**
 * @module wire/problem
 * The stable problem types (RFC 9457) every error of the API carries, shared by the worker, the CLI
 * and the demo page. Clients switch on `type`, never on the message text. Each slug is documented at
 * GET /problems/{slug} on the worker.
 */

export const PROBLEM_TYPES = {
  "invalid-request": { status: 400, title: "The request is invalid" },
  "malformed-safetensors": { status: 400, title: "The body is not a valid safetensors file" },
  "malformed-npy": { status: 400, title: "The body is not a valid .npy file" },
  "unsupported-dtype": { status: 415, title: "A tensor has a dtype this endpoint does not accept" },
  "missing-tensor": { status: 422, title: "A required tensor is missing" },
  "shape-mismatch": { status: 422, title: "Tensor shapes are wrong or inconsistent" },
  "non-finite": { status: 422, title: "The input contains NaN or Inf" },
  "zero-circuit": { status: 422, title: "The circuit is zero: it has no singular vectors" },
  "not-converged": { status: 422, title: "The kernel did not converge or its result failed the checks" },
  unauthorized: { status: 401, title: "A valid bearer token is required" },
  "not-found": { status: 404, title: "No stored result here" },
  conflict: { status: 409, title: "A different input is already stored here" },
  "payload-too-large": { status: 413, title: "The body is larger than this endpoint accepts" },
  "rate-limited": { status: 429, title: "Too many requests" },
  "kernel-fault": { status: 500, title: "The WebAssembly kernel failed" },
  "storage-unavailable": { status: 503, title: "Storage is unavailable" },
  internal: { status: 500, title: "Internal error" },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

/** The `type` URI of a problem slug (a path on the worker that documents it). */
export const problemTypeUri = (slug: ProblemType): string => `/problems/${slug}`;

/** Parses a problem type URI back to its slug (for clients). */
export function problemSlug(type: string): ProblemType | undefined {
  const slug = type.replace(/^.*\/problems\//, "");
  return slug in PROBLEM_TYPES ? (slug as ProblemType) : undefined;
}
