/**
 * @module http/security
 * Response headers that lock the pages down (hono/secure-headers), sent with every answer:
 * a Content-Security-Policy that runs scripts only from this worker (no inline script, no eval; the
 * toy model's module Web Worker and its WebAssembly are allowed), styles only from this worker, no
 * framing by anyone, no MIME sniffing and no referrer. API answers are public resources: any origin
 * may load them (Cross-Origin-Resource-Policy: cross-origin; CORS is in cors.ts).
 */
import { secureHeaders } from "hono/secure-headers";

/** The policy, directive by directive (also what the Chromium test checks is in force). */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  /** 'wasm-unsafe-eval' lets WebAssembly.compile run (the toy Web Worker); it does not allow eval() */
  scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
  workerSrc: ["'self'"],
  styleSrc: ["'self'"],
  /**
   * ECharts writes its HTML tooltips with style attributes; style attributes cannot run script, and
   * <style> elements stay forbidden
   */
  styleSrcAttr: ["'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export const security = secureHeaders({
  contentSecurityPolicy: CONTENT_SECURITY_POLICY,
  xContentTypeOptions: "nosniff",
  referrerPolicy: "no-referrer",
  xFrameOptions: "DENY",
  crossOriginResourcePolicy: "cross-origin",
  crossOriginOpenerPolicy: "same-origin",
});
