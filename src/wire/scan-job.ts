/**
 * @module wire/scan-job
 * Server-side scan jobs: the body of `POST /v1/scans` (a checkpoint id and the CLI's scan options,
 * spelled as the CLI spells them), the queue message of one head, and the job status that
 * `GET /v1/scans/{id}` returns. Shared by the worker and the CLI.
 */
import * as z from "zod/mini";
import { CIRCUITS, MODEL_NAME, VARIANTS, VECTORS_POLICIES } from "./head-request";
import { SHA256_HEX } from "./checkpoint";

export const ARCHITECTURE_NAMES = ["gpt2", "gpt-neo", "gpt-neox", "llama"] as const;

export const ScanJobRequestSchema = z.strictObject({
  checkpoint: z.string().check(z.regex(SHA256_HEX, "a checkpoint id (64 hex digits, from headscope upload or GET /v1/checkpoints)")),
  /** the model name results are stored under (default: the checkpoint's name) */
  model: z.optional(z.string().check(z.regex(MODEL_NAME, "model must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}"))),
  circuits: z._default(z.string().check(z.maxLength(64)), "all"),
  layers: z._default(z.string().check(z.maxLength(4096)), "all"),
  heads: z._default(z.string().check(z.maxLength(4096)), "all"),
  variants: z._default(z.string().check(z.maxLength(256)), "default"),
  rotary_offsets: z._default(z.string().check(z.maxLength(1024)), "0"),
  /** how each result's U and V are stored, as the CLI's --vectors */
  vectors: z._default(z.enum(VECTORS_POLICIES), "f32"),
  arch: z.optional(z.enum(ARCHITECTURE_NAMES)),
  n_heads: z.optional(z.int().check(z.minimum(1), z.maximum(4096))),
  n_kv_heads: z.optional(z.int().check(z.minimum(1), z.maximum(4096))),
  rotary_dim: z.optional(z.int().check(z.minimum(0), z.maximum(4096))),
  rotary_base: z.optional(z.number().check(z.positive())),
});
export type ScanJobRequest = z.infer<typeof ScanJobRequestSchema>;

/** One head, circuit, variant and rotary offset of a job: everything a consumer needs to compute it. */
export const ScanMessageSchema = z.object({
  job: z.string(),
  index: z.int().check(z.minimum(0)),
  checkpoint: z.string(),
  model: z.string(),
  layer: z.int(),
  head: z.int(),
  circuit: z.enum(CIRCUITS),
  variant: z.enum(VARIANTS),
  offset: z.int(),
  /** absent in messages of jobs started before the policy existed: F32 */
  vectors: z._default(z.enum(VECTORS_POLICIES), "f32"),
  arch: z.enum(ARCHITECTURE_NAMES),
  overrides: z.object({ nHeads: z.optional(z.number()), nKvHeads: z.optional(z.number()), rotaryDim: z.optional(z.number()), rotaryBase: z.optional(z.number()) }),
});
export type ScanMessage = z.infer<typeof ScanMessageSchema>;

export const JOB_STATES = ["running", "finished", "cancelled"] as const;

export const ScanJobStatusSchema = z.object({
  schema: z.literal("headscope.scan-job/v1"),
  id: z.string(),
  state: z.enum(JOB_STATES),
  checkpoint: z.string(),
  model: z.string(),
  planned: z.number(),
  enqueued: z.number(),
  done: z.number(),
  computed: z.number(),
  stored: z.number(),
  failed: z.number(),
  retries: z.number(),
  dead_lettered: z.number(),
  /** heads sent again because nothing landed for SCAN_STALL_SECONDS */
  resent: z.number(),
  /** the queue consumer's deadline for the job's largest head, ms (jobs/head-deadline.ts); a client following the job gives up after a few times this without progress */
  head_deadline_ms: z.optional(z.number()),
  started: z.string(),
  finished: z.nullable(z.string()),
  report: z.enum(["pending", "written", "none"]),
  failures: z.array(z.object({ index: z.number(), label: z.string(), type: z.string(), status: z.optional(z.number()), detail: z.string() })),
  links: z.object({ self: z.string(), report: z.string() }),
});
export type ScanJobStatus = z.infer<typeof ScanJobStatusSchema>;
