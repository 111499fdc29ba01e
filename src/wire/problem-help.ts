/**
 * @module wire/problem-help
 * What each problem type means and what to do about it, in the user's terms: the text of
 * GET /problems/{slug} (HTML for browsers, JSON otherwise). Typed as a record over every slug of
 * wire/problem.ts, so a new problem type cannot ship without its explanation. Prose only.
 */
import type { ProblemType } from "./problem";

export interface ProblemHelp {
  /** what went wrong, in one or two sentences */
  meaning: string;
  /** what to do about it */
  action: string;
}

export const PROBLEM_HELP: Record<ProblemType, ProblemHelp> = {
  "invalid-request": {
    meaning: "A path parameter, query option or tensor name is not one this route accepts (a misspelt or unknown query option is refused, never ignored).",
    action: "Read `detail`: it names the parameter (`parameter`, or `unknown` with the `valid` list). GET /openapi.json lists every route's options.",
  },
  "malformed-safetensors": {
    meaning: "The body is not a valid safetensors file: either not safetensors at all (a torch.save .pt/.bin, .npy, JSON, text), or a file whose header disagrees with its bytes.",
    action: "Write the tensors with safetensors' save_file (Python) or examples/export_head.py / export_head.ts, and send the file's bytes as the body (curl --data-binary @head.safetensors).",
  },
  "malformed-npy": {
    meaning: "The body started like a .npy file but its header or size is wrong.",
    action: "Save the array with numpy.save (C order, little-endian float), or send a safetensors file instead.",
  },
  "unsupported-dtype": {
    meaning: "A tensor's dtype is not accepted here (weights must be F32, F16, BF16 or F64; index tensors I32).",
    action: "Convert the tensor (tensor.float() in PyTorch, array.astype(np.float32) in numpy) and send it again.",
  },
  "missing-tensor": {
    meaning: "A tensor the circuit needs is absent: qk needs W_Q and W_K, ov needs W_V and W_O (`tensor` names the missing one).",
    action: "Add the named tensor under exactly that name (TransformerLens names, case-sensitive).",
  },
  "shape-mismatch": {
    meaning: "A tensor's shape is wrong or disagrees with the others. headscope reads TransformerLens orientation: W_Q, W_K, W_V [d_model, d_head], W_O [d_head, d_model]. `transposed` names tensors that arrived as [out, in], the layout of PyTorch/Hugging Face nn.Linear weights.",
    action: "Transpose the named tensors (W.T) or export with examples/export_head.py, which does it for Hugging Face checkpoints.",
  },
  "non-finite": {
    meaning: "A tensor holds NaN or ±Inf (`tensor` and `index` say where), or a value so large that the SVD overflows float64.",
    action: "Check the checkpoint and the export: a diverged run or a bad dtype conversion produces these.",
  },
  "zero-circuit": {
    meaning: "The circuit is the zero matrix: a factor (`tensors`) is all zeros, possibly only after folding ln_w and centring, so every singular value is 0 and no singular vector means anything.",
    action: "Check that the right head and tensors were exported (an untrained, pruned or zero-initialised head?), or send it without fold_ln if centring emptied it.",
  },
  "not-converged": {
    meaning: "The SVD kernel did not converge, or its result failed the accuracy checks it reports (`diagnostics`). Nothing was stored.",
    action: "Rare with real weights: report it with the request id and, if you can, the body.",
  },
  unauthorized: {
    meaning: "Writes need `Authorization: Bearer <token>`, and the token sent is missing or wrong. Reads are public.",
    action: "Use the worker's write token: HEADSCOPE_TOKEN of the deployment (wrangler secret put HEADSCOPE_TOKEN), or the one npm start prints.",
  },
  "not-found": {
    meaning: "Nothing is stored at this address (or the route does not exist).",
    action: "POST the head first, or list what is stored: GET /v1/models and GET /v1/models/{model}/summary. GET /v1 lists the routes.",
  },
  conflict: {
    meaning: "A result from a different input (or kept with other `vectors`) is already stored for this head and variant.",
    action: "Use another model name for the other checkpoint, or POST again with ?overwrite=true to replace the stored result.",
  },
  "payload-too-large": {
    meaning: "The body is larger than this endpoint accepts (`limitBytes`).",
    action: "Send one head per request, use F16/BF16, or run a local worker (npm start) for the demo's larger heads.",
  },
  "rate-limited": {
    meaning: "Too many anonymous demo requests from this client.",
    action: "Wait for the Retry-After seconds, or run your own worker (npm start).",
  },
  "kernel-fault": {
    meaning: "The WebAssembly kernel failed in a way that is a bug, not bad input.",
    action: "Report it with the request id.",
  },
  "storage-unavailable": {
    meaning: "R2 or KV did not answer. Nothing was half-written: results are stored whole or not at all.",
    action: "Retry (requests are idempotent); the scan CLI does so with backoff.",
  },
  internal: {
    meaning: "An unexpected error in the worker; no details leak.",
    action: "Retry; if it persists, report it with the request id.",
  },
};
