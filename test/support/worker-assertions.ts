/**
 * Assertions shared by the route tests that run inside workerd (the `workers` project): the shape of
 * a problem answer, and what is in the real local KV and R2.
 */
import { env } from "cloudflare:workers";
import { expect } from "vitest";

/** Asserts an RFC 9457 problem with this status and type; returns its body. */
export async function expectProblem(res: Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const p = (await res.json()) as Record<string, unknown>;
  expect(p.type).toBe(`/problems/${type}`);
  expect(p.status).toBe(status);
  expect(typeof p.detail).toBe("string");
  return p;
}

/** Every key in KV and R2. */
export async function storedKeys() {
  const kv = await env.JOBS.list();
  const r2 = await env.RESULTS.list();
  return { kv: kv.keys.map((k) => k.name), r2: r2.objects.map((o) => o.key) };
}
