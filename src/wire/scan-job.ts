/**
 * @module wire/scan-job
 * Server-side scan jobs: the body of `POST /v1/scans` (a checkpoint id and the CLI's scan options,
 * spelled as the CLI spells them), the queue message of one head, and the job status that
 * `GET /v1/scans/{id}` returns. Shared by the worker and the CLI.
 */
import { z } from "zod";
import { CIRCUITS, MODEL_NAME, VARIANTS } from "./head-request";
import { SHA256_HEX } from "./checkpoint";

export const ARCHITECTURE_NAMES = ["gpt2", "gpt-neo", "gpt-neox", "llama"] as const;

export const ScanJobRequestSchema = z
  .object({
    checkpoint: z.string().regex(SHA256_HEX, "a checkpoint id (64 hex digits, from headscope upload or GET /v1/checkpoints)"),
    /** the model name results are stored under (default: the checkpoint's name) */
    model: z.string().regex(MODEL_NAME, "model must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}").optional(),
    circuits: z.string().max(64).default("all"),
    layers: z.string().max(4096).default("all"),
    heads: z.string().max(4096).default("all"),
    variants: z.string().max(256).default("default"),
    rotary_offsets: z.string().max(1024).default("0"),
    arch: z.enum(ARCHITECTURE_NAMES).optional(),
    n_heads: z.number().int().min(1).max(4096).optional(),
    n_kv_heads: z.number().int().min(1).max(4096).optional(),
    rotary_dim: z.number().int().min(0).max(4096).optional(),
    rotary_base: z.number().positive().finite().optional(),
  })
  .strict();
export type ScanJobRequest = z.infer<typeof ScanJobRequestSchema>;

/** One head, circuit, variant and rotary offset of a job: everything a consumer needs to compute it. */
export const ScanMessageSchema = z.object({
  job: z.string(),
  index: z.number().int().min(0),
  checkpoint: z.string(),
  model: z.string(),
  layer: z.number().int(),
  head: z.number().int(),
  circuit: z.enum(CIRCUITS),
  variant: z.enum(VARIANTS),
  offset: z.number().int(),
  arch: z.enum(ARCHITECTURE_NAMES),
  overrides: z.object({ nHeads: z.number().optional(), nKvHeads: z.number().optional(), rotaryDim: z.number().optional(), rotaryBase: z.number().optional() }),
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
  started: z.string(),
  finished: z.string().nullable(),
  report: z.enum(["pending", "written", "none"]),
  failures: z.array(z.object({ index: z.number(), label: z.string(), type: z.string(), status: z.number().optional(), detail: z.string() })),
  links: z.object({ self: z.string(), report: z.string() }),
});
export type ScanJobStatus = z.infer<typeof ScanJobStatusSchema>;
