/**
 * @module wire/toy-report
 * What POST /v1/toy/reports accepts: a toy.json written by `npm run toy` (schema headscope.toy/v1,
 * documented in src/toy/report.ts). Only the fields the worker and the demo page rely on are
 * checked; the rest is stored as sent.
 */
import * as z from "zod/mini";

export const TOY_REPORT_LIMIT_BYTES = 16 * 1024 * 1024;
export const EXPERIMENT_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export const ToyReportSchema = z.looseObject({
  schema: z.literal("headscope.toy/v1"),
  experiment: z.string().check(z.regex(EXPERIMENT_NAME)),
  runs: z
    .array(
      z.looseObject({
        seed: z.int(),
        config: z.record(z.string(), z.unknown()),
        curves: z.record(z.string(), z.unknown()),
        final: z.record(z.string(), z.unknown()),
      }),
    )
    .check(z.minLength(1)),
  summary: z.looseObject({ seeds: z.array(z.number()), passed: z.int() }),
});

export type ToyReport = z.infer<typeof ToyReportSchema>;

/** The KV pointer to the latest report of an experiment. */
export interface ToyPointer {
  experiment: string;
  sha256: string;
  key: string;
  seeds: number[];
  passed: number;
  runs: number;
}
