/**
 * `vectors=f32|f16|none` on POST …/{qk|ov} inside workerd with real local R2 and KV: what is stored
 * (an F16 file under its own key, or no R2 object at all), what the summary says (vectors.dtype, or
 * vectors: null and no vectors link), the vectors GET, the conflict when the same input is posted with
 * another format, and its replacement with overwrite=true (the old file deleted last, nothing left over).
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, expect, inject, test } from "vitest";
import { decodeFloat, parseSafetensors } from "../../src/wire/safetensors";
import { expectProblem, storedKeys } from "../support/worker-assertions";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const gpt2 = inject("gpt2L0H1");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const post = (path: string, body: Uint8Array) =>
  exports.default.fetch(
    new Request(`${BASE}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream" } }),
  );
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));
const PATH = "/v1/models/gpt2-small/layers/0/heads/1/qk";

beforeEach(async () => {
  await reset();
});

test("vectors=none stores the summary only; the vectors GET is a 404", async () => {
  const res = await post(`${PATH}?vectors=none`, bytes(gpt2.qk));
  expect(res.status).toBe(201);
  const a = (await res.json()) as any;
  expect(a.vectors).toBeNull();
  expect(a.links.vectors).toBeUndefined();
  expect((await storedKeys()).r2).toEqual([]);
  const full = (await (await post(`/v1/models/other/layers/0/heads/1/qk`, bytes(gpt2.qk))).json()) as any;
  expect(a.singular_values).toEqual(full.singular_values);
  await expectProblem(await get(`${PATH}/vectors`), 404, "not-found");
  const again = await post(`${PATH}?vectors=none`, bytes(gpt2.qk));
  expect(again.status).toBe(200);
  expect(((await again.json()) as any).computed).toBe(false);
});

test("vectors=f16: half the bytes, under its own key, within half precision of F32", async () => {
  const a = (await (await post(`${PATH}?vectors=f16`, bytes(gpt2.qk))).json()) as any;
  expect(a.vectors.dtype).toEqual({ U: "F16", S: "F64", V: "F16" });
  expect(a.vectors.key).toMatch(/\.f16\.safetensors$/);
  const f16 = new Uint8Array(await (await get(a.links.vectors)).arrayBuffer());
  const b = (await (await post(`/v1/models/other/layers/0/heads/1/qk`, bytes(gpt2.qk))).json()) as any;
  const f32 = new Uint8Array(await (await get(b.links.vectors)).arrayBuffer());
  expect(f16.byteLength).toBeLessThan(0.51 * f32.byteLength + 4096);
  const [t16, t32] = [parseSafetensors(f16).tensors, parseSafetensors(f32).tensors];
  for (const name of ["U", "V"]) {
    const [x, y] = [decodeFloat(t32.get(name)!), decodeFloat(t16.get(name)!)];
    for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(2 ** -11 * Math.max(Math.abs(x[i]), 2 ** -14));
  }
});

test("the same input with another vectors format: 409 that changes nothing; overwrite=true replaces it", async () => {
  const first = (await (await post(PATH, bytes(gpt2.qk))).json()) as any;
  const before = await storedKeys();
  const p = await expectProblem(await post(`${PATH}?vectors=none`, bytes(gpt2.qk)), 409, "conflict");
  expect(p).toMatchObject({ stored_vectors: "f32", vectors: "none" });
  expect(await storedKeys()).toEqual(before);
  const over = await post(`${PATH}?vectors=f16&overwrite=true`, bytes(gpt2.qk));
  expect(over.status).toBe(201);
  const a = (await over.json()) as any;
  expect(a.vectors.dtype.U).toBe("F16");
  // the F32 file is gone, the F16 one is the only object
  expect((await storedKeys()).r2).toEqual([a.vectors.key]);
  expect(a.vectors.key).not.toBe(first.vectors.key);
  const summary = (await (await get(`${PATH}?variant=folded_augmented`)).json()) as any;
  expect(summary.vectors.dtype.U).toBe("F16");
});
