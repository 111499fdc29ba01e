/**
 * @module wire/demo
 * Limits of the anonymous demo endpoints, shown on the page and returned in errors, and the query
 * options of its analysis endpoint. Only zod at run time.
 */
import * as z from "zod/mini";
import { CIRCUITS, HeadOptionsSchema } from "./head-request";
export const DEMO_LIMITS = {
  /** request body of POST /v1/demo/analyze */
  maxBodyBytes: 1024 * 1024,
  /** per client (CF-Connecting-IP), enforced by the DEMO_LIMITER rate-limit binding */
  requestsPerMinute: 20,
} as const;

/** Query options of POST /v1/demo/analyze: the head options (nothing is stored, so no overwrite and no token readouts) and the circuit. */
export const DemoQuerySchema = z.extend(z.omit(HeadOptionsSchema, { overwrite: true, readouts: true, readout_k: true }), { circuit: z.optional(z.enum(CIRCUITS)) });
