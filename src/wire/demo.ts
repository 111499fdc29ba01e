/**
 * @module wire/demo
 * Limits of the anonymous demo endpoints, shown on the page and returned in errors.
 */
export const DEMO_LIMITS = {
  /** request body of POST /v1/demo/analyze */
  maxBodyBytes: 1024 * 1024,
  /** per client (CF-Connecting-IP), enforced by the DEMO_LIMITER rate-limit binding */
  requestsPerMinute: 20,
} as const;
