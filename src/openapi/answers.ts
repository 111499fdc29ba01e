/**
 * @module openapi/answers
 * Schemas of the answers that have no zod schema of their own in wire/ (the routes build them from
 * typed services, nothing parses them). They exist for the OpenAPI document; test/routes/openapi.test.ts
 * parses real answers of a real worker with them, so they cannot drift from what is sent.
 */
import * as z from "zod/mini";
import { CIRCUITS, VARIANTS, VariantSchema } from "../wire/head-request";
import { AlignmentSummarySchema, SadSummarySchema } from "../wire/analysis-request";
import { EXPERIMENT_NAME } from "../wire/toy-report";
import { PROBLEM_TYPES } from "../wire/problem";
import { CheckpointManifestInputSchema } from "../wire/checkpoint";

const nullableNumber = z.nullable(z.number());

export const SadDigestSchema = z.object({
  id: z.string(),
  tau: z.number(),
  batch: z.int(),
  tokens: z.int(),
  firing_positive: z.int(),
  n_recon_median: nullableNumber,
  n_recon_p90: nullableNumber,
  sparseness_median: nullableNumber,
  null_n_recon_median_mean: nullableNumber,
  n_recon_median_gap: nullableNumber,
});

export const ModelSummaryEntrySchema = z.object({
  layer: z.int(),
  head: z.int(),
  circuit: z.enum(CIRCUITS),
  variant: z.enum(VARIANTS),
  centred: z.boolean(),
  factor_rows: z.int(),
  d_model: z.int(),
  d_head: z.int(),
  top_singular_values: z.array(z.number()).check(z.describe("the largest 8 singular values")),
  effective_rank: z.number(),
  numerical_rank: z.int(),
  frobenius_norm: z.number(),
  top_energy: z.number(),
  spectral_decay: z.object({
    sigma2_over_sigma1: z.number(),
    half_energy_rank: z.int().check(z.describe("smallest k with Σ_{i≤k} σ_i² ≥ ½ Σσ²")),
    energy90_rank: z.int().check(z.describe("smallest k with Σ_{i≤k} σ_i² ≥ 0.9 Σσ²")),
  }),
  checks_passed: z.boolean(),
  input_sha256: z.string(),
  sad: z.optional(z.array(SadDigestSchema).check(z.describe("stored SAD analyses of this head in this variant (qk only)"))),
});

export const ModelSummarySchema = z.object({
  schema: z.literal("headscope.model-summary/v1"),
  model: z.string(),
  n_layers: z.int().check(z.describe("1 + the largest layer index stored")),
  n_heads: z.int().check(z.describe("1 + the largest head index stored")),
  count: z.int(),
  variants: z.object({ qk: z.array(z.enum(VARIANTS)), ov: z.array(z.enum(VARIANTS)) }),
  entries: z.array(ModelSummaryEntrySchema),
});

export const ModelListSchema = z.object({ models: z.array(z.string()) });

export const ToyPointerSchema = z.object({
  experiment: z.string().check(z.regex(EXPERIMENT_NAME)),
  sha256: z.string(),
  key: z.string(),
  seeds: z.array(z.int()),
  passed: z.int(),
  runs: z.int(),
});
export const ToyReportListSchema = z.object({ reports: z.array(ToyPointerSchema) });
export const ToyPublishAnswerSchema = z.extend(ToyPointerSchema, {
  stored: z.boolean().check(z.describe("false when identical content was already published")),
  links: z.object({ self: z.string() }),
});

const analysisLinks = z.object({ self: z.string(), detail: z.optional(z.string()) });
export const SadAnswerSchema = z.extend(SadSummarySchema, { computed: z.optional(z.boolean()), links: analysisLinks });
export const AlignmentAnswerSchema = z.extend(AlignmentSummarySchema, { computed: z.optional(z.boolean()), links: analysisLinks });

export const DemoAnalysisSchema = z.object({
  schema: z.literal("headscope.demo-analysis/v1"),
  stored: z.literal(false),
  circuit: z.enum(CIRCUITS),
  variant: VariantSchema,
  d_model: z.int(),
  d_head: z.int(),
  singular_values: z.array(z.number()),
  effective_rank: z.number(),
  frobenius_norm: z.number(),
  top_energy: z.number(),
  numerical_rank: z.int(),
  diagnostics: z.record(z.string(), z.unknown()),
  kernel: z.object({ name: z.string(), simd: z.boolean() }),
});

export const ApiIndexSchema = z.object({
  name: z.literal("headscope"),
  api: z.literal("v1"),
  docs: z.string(),
  openapi: z.string(),
  problems: z.string(),
  routes: z.array(
    z.object({
      method: z.string(),
      path: z.string(),
      summary: z.string(),
      auth: z.boolean().check(z.describe("needs the bearer token")),
      query: z.optional(z.array(z.string()).check(z.describe("the query options it accepts (others are refused)"))),
    }),
  ).check(z.describe("every route, generated from this document's operations")),
});

const slugs = Object.keys(PROBLEM_TYPES) as [keyof typeof PROBLEM_TYPES, ...(keyof typeof PROBLEM_TYPES)[]];

/** RFC 9457 problem details, as every error is answered. */
export const ProblemAnswerSchema = z
  .looseObject({
    type: z.enum(slugs.map((s) => `/problems/${s}`) as [string, ...string[]]).check(z.describe("stable; documented at GET /problems/{slug}")),
    title: z.string(),
    status: z.int(),
    detail: z.string().check(z.describe("what was expected and what was found")),
    request_id: z.string().check(z.describe("quote it when reporting a problem")),
  })
  .check(z.describe("extension members name what failed: parameter, tensor, limit, limitBytes, limits, variants, …"));

export const ProblemTypeSchema = z.object({
  type: z.string(), status: z.int(), title: z.string(),
  meaning: z.string().check(z.describe("what went wrong")), action: z.string().check(z.describe("what to do about it")),
});

/** POST …/uploads/{upload_id}/complete: the shard is stored under its SHA-256. */
export const CompleteUploadAnswerSchema = z.object({ exists: z.literal(true), sha256: z.string(), bytes: z.number() });

/** A registered checkpoint (POST /v1/checkpoints adds links; GET /v1/checkpoints/{id} is the manifest alone). */
export const CheckpointManifestSchema = z.extend(CheckpointManifestInputSchema, {
  schema: z.literal("headscope.checkpoint/v1"),
  id: z.string().check(z.describe("the SHA-256 of the canonical manifest")),
  bytes: z.number(),
  dtypes: z.array(z.string()),
  tensors: z.int(),
  links: z.optional(z.object({ self: z.string() })),
});

export const CheckpointListSchema = z.object({
  checkpoints: z.array(z.object({ id: z.string(), name: z.string(), bytes: z.number(), files: z.number(), uploaded: z.string() })),
});

/** report.json of a finished scan job: the report `headscope scan` writes (src/cli/report.ts). */
export const ScanReportSchema = z
  .looseObject({ schema: z.literal("headscope.scan-report/v1"), model: z.string(), entries: z.array(z.record(z.string(), z.unknown())) })
  .check(z.describe("the same report.json as `headscope scan --out DIR` writes (schema headscope.scan-report/v1)"));
