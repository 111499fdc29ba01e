/**
 * The per-head endpoint inside workerd with real local R2 and KV (isolated per test file), with real
 * GPT-2 weights: round trips through the worker's own fetch handler; auth, validation and error
 * answers through the Hono app directly (app.request), where the worker entry is not the point.
 */
import { reset } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, test } from "vitest";
import { expectProblem, storedKeys } from "../support/worker-assertions";
import { app } from "../../src/app";
import { encodeSafetensors } from "../../src/wire/safetensors";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const gpt2 = inject("gpt2L0H1");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

function post(path: string, body: BodyInit | null, headers: Record<string, string> = {}) {
  return exports.default.fetch(
    new Request(`${BASE}${path}`, {
      method: "POST",
      body,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream", ...headers },
    }),
  );
}
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));

/** The same requests through the Hono app directly, with the same real bindings. */
const appPost = (path: string, body: BodyInit | null, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
  app.request(path, { method: "POST", body, headers: { "content-type": "application/octet-stream", ...headers } }, env);
const appGet = (path: string) => app.request(path, {}, env);



beforeEach(async () => {
  await reset();
});

const PATH = "/v1/models/gpt2-small/layers/0/heads/1";
const relErr = (a: number[], b: number[]) => Math.max(...b.map((x, i) => (x < 1e-6 * b[0] ? 0 : Math.abs(a[i] - x) / x)));

describe("round trip", () => {
  test("POST qk computes folded_augmented, stores it, GET returns it, vectors round-trip", async () => {
    const res = await post(`${PATH}/qk`, bytes(gpt2.qk));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.computed).toBe(true);
    expect(a.variant).toMatchObject({ name: "folded_augmented", fold_ln: true, bias: "augmented", factor_rows: 769 });
    expect(a.variant.scale).toBeCloseTo(1 / 8, 15);
    expect(relErr(a.singular_values, gpt2.reference.qk.folded_augmented)).toBeLessThan(1e-5);
    // the kernel's own checks: measured values (never 0 after rounding) within the limits it applied
    expect(a.checks.map((c: any) => c.name)).toEqual(["core_residual", "orthogonality_U", "orthogonality_V", "jacobi_off_orthogonality"]);
    for (const c of a.checks) expect(c.value > 0 && c.value <= c.limit && c.passed).toBe(true);
    expect(a.input.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.links.self).toBe(`${PATH}/qk?variant=folded_augmented&sha256=${a.input.sha256}`);

    const g = await get(a.links.self);
    expect(g.status).toBe(200);
    const summary = (await g.json()) as any;
    expect(summary.singular_values).toEqual(a.singular_values);
    expect(summary.computed).toBeUndefined();

    const v = await get(a.links.vectors);
    expect(v.status).toBe(200);
    const buf = new Uint8Array(await v.arrayBuffer());
    const { parseSafetensors, decodeFloat } = await import("../../src/wire/safetensors");
    const st = parseSafetensors(buf);
    expect(st.tensors.get("U")!.shape).toEqual([769, 64]);
    expect(st.tensors.get("V")!.shape).toEqual([769, 64]);
    expect(Array.from(decodeFloat(st.tensors.get("S")!))).toEqual(a.singular_values);
    expect(st.metadata.input_sha256).toBe(a.input.sha256);
  });

  test("POST ov with fold_ln=false gives the raw spectrum; GET without variant finds the only one", async () => {
    const res = await post(`${PATH}/ov?fold_ln=false`, bytes(gpt2.ov));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.variant.name).toBe("raw");
    expect(relErr(a.singular_values, gpt2.reference.ov.raw)).toBeLessThan(1e-5);
    const g = await get(`${PATH}/ov`);
    expect(((await g.json()) as any).variant.name).toBe("raw");
  });

  test("qk without ln and biases defaults to raw", async () => {
    const res = await post(`${PATH}/qk`, bytes(gpt2.qkNoLn));
    const a = (await res.json()) as any;
    expect(a.variant.name).toBe("raw");
    expect(relErr(a.singular_values, gpt2.reference.qk.raw)).toBeLessThan(1e-5);
  });
});

describe("idempotency", () => {
  test("re-posting identical input computes nothing and returns the same keys", async () => {
    const first = (await (await post(`${PATH}/qk`, bytes(gpt2.qk))).json()) as any;
    const before = await storedKeys();
    const again = await post(`${PATH}/qk`, bytes(gpt2.qk));
    expect(again.status).toBe(200);
    const second = (await again.json()) as any;
    expect(second.computed).toBe(false);
    expect(second.vectors.key).toBe(first.vectors.key);
    expect(second.singular_values).toEqual(first.singular_values);
    expect(await storedKeys()).toEqual(before);
  });

  test("a different input for the same head and variant is a 409 unless overwrite=true", async () => {
    await post(`${PATH}/qk?fold_ln=false&bias=none`, bytes(gpt2.qkNoLn));
    const other = encodeSafetensors({
      W_Q: { dtype: "F32", shape: [4, 2], data: new Float32Array([1, 0, 0, 1, 0, 0, 0, 0]) },
      W_K: { dtype: "F32", shape: [4, 2], data: new Float32Array([1, 0, 0, 2, 0, 0, 0, 0]) },
    });
    const clash = await post(`${PATH}/qk?fold_ln=false&bias=none`, other);
    await expectProblem(clash, 409, "conflict");
    const replaced = await post(`${PATH}/qk?fold_ln=false&bias=none&overwrite=true`, other);
    expect(replaced.status).toBe(201);
    const r = (await replaced.json()) as any;
    expect(r.singular_values).toEqual([2, 1]);
    // the replaced result's vectors are gone; only the new one remains for this variant
    const { r2 } = await storedKeys();
    expect(r2.filter((k) => k.includes("/qk/raw/"))).toEqual([r.vectors.key]);
  });
});

describe("auth", () => {
  test.each([
    ["missing", {}],
    ["wrong", { authorization: "Bearer not-the-token" }],
    ["malformed", { authorization: "Basic abc" }],
    ["empty bearer", { authorization: "Bearer " }],
  ])("%s token → 401, nothing stored", async (_name, headers) => {
    const res = await appPost(`${PATH}/qk`, bytes(gpt2.qk), headers);
    const p = await expectProblem(res, 401, "unauthorized");
    expect(JSON.stringify(p)).not.toContain(TOKEN);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("reads need no token", async () => {
    await post(`${PATH}/qk`, bytes(gpt2.qk));
    expect((await get(`${PATH}/qk`)).status).toBe(200);
  });
});

describe("errors are problem+json with a stable type, and store nothing", () => {
  const f32 = (shape: number[], fill = 0.5) => ({ dtype: "F32" as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });
  /** half-precision bits: 0.5 everywhere but the last value */
  const half = (dtype: "BF16" | "F16", shape: number[], last: number) => {
    const data = new Uint16Array(shape.reduce((a, b) => a * b, 1)).fill(dtype === "BF16" ? 0x3f00 : 0x3800);
    data[data.length - 1] = last;
    return { dtype, shape, data };
  };
  const cases: Array<[string, string, () => BodyInit, number, string]> = [
    ["garbage bytes", "qk", () => new Uint8Array([1, 2, 3]), 400, "malformed-safetensors"],
    ["header past the end", "qk", () => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; }, 400, "malformed-safetensors"],
    ["non-JSON header", "qk", () => { const b = new Uint8Array(12); new DataView(b.buffer).setBigUint64(0, 4n, true); b.set([0x7b, 0x7b, 0x7b, 0x7b], 8); return b; }, 400, "malformed-safetensors"],
    ["missing W_K", "qk", () => encodeSafetensors({ W_Q: f32([8, 2]) }), 422, "missing-tensor"],
    ["inconsistent shapes", "qk", () => encodeSafetensors({ W_Q: f32([8, 2]), W_K: f32([8, 3]) }), 422, "shape-mismatch"],
    ["W_O not transposed", "ov", () => encodeSafetensors({ W_V: f32([8, 2]), W_O: f32([8, 2]) }), 422, "shape-mismatch"],
    ["NaN", "qk", () => encodeSafetensors({ W_Q: f32([8, 2], NaN), W_K: f32([8, 2]) }), 422, "non-finite"],
    ["Inf", "ov", () => encodeSafetensors({ W_V: f32([8, 2]), W_O: f32([2, 8], Infinity) }), 422, "non-finite"],
    // half-precision factors are checked on their bits (an all-ones exponent), never widened first
    ["BF16 NaN", "qk", () => encodeSafetensors({ W_Q: half("BF16", [8, 2], 0x7fc0), W_K: f32([8, 2]) }), 422, "non-finite"],
    ["F16 −∞", "ov", () => encodeSafetensors({ W_V: f32([8, 2]), W_O: half("F16", [2, 8], 0xfc00) }), 422, "non-finite"],
    ["unexpected tensor", "qk", () => encodeSafetensors({ W_Q: f32([8, 2]), W_K: f32([8, 2]), W_q: f32([1]) }), 400, "invalid-request"],
    ["augmented without biases", "qk", () => encodeSafetensors({ W_Q: f32([8, 2]), W_K: f32([8, 2]) }), 400, "invalid-request"],
  ];
  for (const [name, circuit, body, status, type] of cases) {
    test(name, async () => {
      const q = name === "augmented without biases" ? "?bias=augmented" : "";
      const p = await expectProblem(await appPost(`${PATH}/${circuit}${q}`, body()), status, type);
      // a half-precision value is named as the float it encodes, at its index
      if (name === "BF16 NaN") expect(p.detail).toBe("W_Q holds NaN at flat index 15");
      if (name === "F16 −∞") expect(p.detail).toBe("W_O holds -Infinity at flat index 15");
      expect(await storedKeys()).toEqual({ kv: [], r2: [] });
    });
  }

  test("unsupported dtype", async () => {
    const body = encodeSafetensors({ W_Q: f32([8, 2]), W_K: f32([8, 2]) });
    // rewrite W_K's dtype to I32 (same width) in the header
    const text = new TextDecoder().decode(body);
    const patched = new TextEncoder().encode(text.replace(/"W_K":\{"dtype":"F32"/, '"W_K":{"dtype":"I32"'));
    const p = await expectProblem(await appPost(`${PATH}/qk`, patched), 415, "unsupported-dtype");
    expect(p.dtype).toBe("I32");
  });

  test("body too large → 413 before the body is read", async () => {
    const big = new Uint8Array(24 * 1024 * 1024 + 1);
    const p = await expectProblem(await appPost(`${PATH}/qk`, big), 413, "payload-too-large");
    expect(p.limitBytes).toBe(24 * 1024 * 1024);
  });

  test("bad path and query parameters", async () => {
    await expectProblem(await appPost("/v1/models/bad%20name/layers/0/heads/0/qk", bytes(gpt2.qk)), 400, "invalid-request");
    await expectProblem(await appPost(`${PATH}/qk?bias=sideways`, bytes(gpt2.qk)), 400, "invalid-request");
    await expectProblem(await appPost(`${PATH}/ov?bias=augmented`, bytes(gpt2.ov)), 400, "invalid-request");
    await expectProblem(await appGet(`${PATH}/xy`), 400, "invalid-request");
  });

  test("GET without ?variant= when several variants are stored → invalid-request listing them", async () => {
    expect((await appPost(`${PATH}/qk?fold_ln=false&bias=none`, bytes(gpt2.qk))).status).toBe(201);
    expect((await appPost(`${PATH}/qk`, bytes(gpt2.qk))).status).toBe(201);
    const p = await expectProblem(await appGet(`${PATH}/qk`), 400, "invalid-request");
    expect(p.variants).toEqual(["folded_augmented", "raw"]);
    expect(p.detail).toMatch(/several variants are stored \(folded_augmented, raw\); choose one with \?variant=/);
    expect((await appGet(`${PATH}/qk?variant=raw`)).status).toBe(200);
  });

  test("reading what was never stored → 404", async () => {
    await expectProblem(await appGet(`${PATH}/qk`), 404, "not-found");
    await expectProblem(await appGet(`${PATH}/qk/vectors?variant=raw`), 404, "not-found");
    await expectProblem(await appGet("/nowhere"), 404, "not-found");
  });

  test("kernel non-convergence is reported, not stored (a rank-1 head whose core overflows f64)", async () => {
    const huge = encodeSafetensors({
      W_Q: { dtype: "F64", shape: [2, 1], data: new Float64Array([1e200, 0]) },
      W_K: { dtype: "F64", shape: [2, 1], data: new Float64Array([1e200, 0]) },
    } as never);
    await expectProblem(await appPost(`${PATH}/qk`, huge), 422, "non-finite");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("the problem type URIs are documented by the worker", async () => {
    const res = await appGet("/problems/shape-mismatch");
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).status).toBe(422);
  });
});
