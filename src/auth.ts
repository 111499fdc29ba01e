/**
 * @module auth
 * Bearer-token check for writes. Both the presented and the configured token are hashed with
 * SHA-256 and the digests compared with a loop that always visits every byte, so the time taken
 * does not depend on where (or whether) they differ, nor on the token's length. Tokens never appear
 * in errors or logs.
 */
import { createMiddleware } from "hono/factory";
import { Unauthorized } from "./errors";
import type { AppEnv } from "./env";

async function digest(s: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
}

/** Constant-time equality of two strings (through their SHA-256 digests). */
export async function tokensEqual(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export const requireToken = createMiddleware<AppEnv>(async (c, next) => {
  const expected = c.env.HEADSCOPE_TOKEN;
  if (!expected) throw new Unauthorized("this deployment has no write token configured (secret HEADSCOPE_TOKEN)");
  const header = c.req.header("authorization");
  if (!header) throw new Unauthorized("missing Authorization: Bearer <token> header");
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
  if (!m) throw new Unauthorized("Authorization header must be 'Bearer <token>'");
  if (!(await tokensEqual(m[1], expected))) throw new Unauthorized("the bearer token is not valid");
  await next();
});
