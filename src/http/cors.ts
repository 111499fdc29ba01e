/**
 * @module http/cors
 * Cross-origin access (hono/cors). Reads are public from any origin; writes are allowed cross-origin
 * because the only credential this API knows is the bearer token in `Authorization` (allowed in the
 * preflight), which a page must hold and send itself. Never credentials mode: the origin is `*`, so a
 * browser refuses to send cookies or to hand a credentialed response to a script, and nothing here
 * reads cookies. The anonymous demo endpoint is same-origin only (no CORS headers): it is rate-limited
 * compute for the demo page, not an API for other sites.
 */
import { cors as honoCors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

/** Paths that answer only their own origin. */
export const SAME_ORIGIN_ONLY = ["/v1/demo/analyze"] as const;

export const CORS_POLICY = {
  origin: "*",
  allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
  /** the bearer token, a body type, and conditional GETs (If-None-Match is not CORS-safelisted) */
  allowHeaders: ["Authorization", "Content-Type", "If-None-Match"],
  /** what a cross-origin script may read besides the safelisted response headers */
  exposeHeaders: ["ETag", "X-Request-Id", "Retry-After", "Content-Disposition", "Content-Length"],
  /** a day of cached preflights */
  maxAge: 86_400,
} as const;

const allowAnyOrigin = honoCors({
  origin: CORS_POLICY.origin,
  allowMethods: [...CORS_POLICY.allowMethods],
  allowHeaders: [...CORS_POLICY.allowHeaders],
  exposeHeaders: [...CORS_POLICY.exposeHeaders],
  maxAge: CORS_POLICY.maxAge,
  credentials: false,
});

export const cors = createMiddleware<AppEnv>(async (c, next) => {
  if ((SAME_ORIGIN_ONLY as readonly string[]).includes(c.req.path)) return next();
  return allowAnyOrigin(c, next);
});
