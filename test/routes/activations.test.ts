/**
 * The activation store inside workerd with real local R2 and KV: a file is uploaded once (201, id =
 * SHA-256 of its bytes), re-uploading is idempotent (200, nothing new stored), GET returns it byte for
 * byte, SAD requests that name it (`?activations=ID&layer=L`) give exactly the figures of the same X
 * sent in the body and reuse it across heads, and bad ids, bad files and bad combinations are 4xx
 * problems that store nothing (no half-stored file).
 */
import { reset } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, test } from "vitest";
import { expectProblem, storedKeys } from "../support/worker-assertions";
import { decodeFloat, encodeSafetensors, parseSafetensors, type TensorOut } from "../../src/wire/safetensors";

const TOKEN = "test-token-0123456789";
const BASE = "https://headscope.test";
const sad = inject("gpt2SadL0");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const HEAD = (h: number) => `/v1/models/gpt2-small/layers/0/heads/${h}`;

const post = (path: string, body: BodyInit | null, token = TOKEN) =>
  exports.default.fetch(
    new Request(`${BASE}${path}`, { method: "POST", body, headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" } }),
  );
const get = (path: string) => exports.default.fetch(new Request(`${BASE}${path}`));

async function sha256(b: Uint8Array) {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b)), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The fixture's tensors: X (positional inputs of GPT-2 layer 0) and the head's weights. */
function parts() {
  const p = parseSafetensors(bytes(sad.withWeights));
  const t = (n: string): TensorOut => ({ dtype: p.tensors.get(n)!.dtype as "F32" | "F64", shape: p.tensors.get(n)!.shape, data: decodeFloat(p.tensors.get(n)!) });
  return { X: t("X"), weights: { W_Q: t("W_Q"), W_K: t("W_K"), b_Q: t("b_Q"), b_K: t("b_K") } };
}

beforeEach(async () => {
  await reset();
});

describe("activation store", () => {
  test("upload once: 201 with the SHA-256 id; again: 200, nothing new; GET returns the same bytes", async () => {
    const { X } = parts();
    const file = encodeSafetensors({ "layer.0": X, "layer.1": X });
    const res = await post("/v1/activations", file);
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a).toMatchObject({ schema: "headscope.activations/v1", id: await sha256(file), bytes: file.byteLength, stored: true });
    expect(a.tensors["layer.0"]).toEqual({ dtype: X.dtype, shape: X.shape });
    const keys = await storedKeys();
    expect(keys).toEqual({ kv: [], r2: [`activations/v1/${a.id}.safetensors`] });

    const again = await post("/v1/activations", file);
    expect(again.status).toBe(200);
    expect(((await again.json()) as any)).toMatchObject({ id: a.id, stored: false });
    expect(await storedKeys()).toEqual(keys);

    const g = await get(a.links.self);
    expect(g.status).toBe(200);
    expect(g.headers.get("etag")).toBe(`"${a.id}"`);
    expect(new Uint8Array(await g.arrayBuffer())).toEqual(file);
  });

  test("SAD from stored activations equals SAD with X in the body, and one upload serves several heads", async () => {
    const { X, weights } = parts();
    const up = (await (await post("/v1/activations", encodeSafetensors({ "layer.0": X }))).json()) as any;
    const inBody = (await (await post(`${HEAD(sad.head)}/qk/sad?null_seeds=2`, encodeSafetensors({ X, ...weights }))).json()) as any;
    const res = await post(`${HEAD(sad.head)}/qk/sad?null_seeds=2&activations=${up.id}&layer=0`, encodeSafetensors(weights));
    expect(res.status).toBe(201);
    const viaStore = (await res.json()) as any;
    expect(viaStore.input.activations).toEqual({ id: up.id, tensor: "layer.0" });
    for (const k of ["pairs", "n_recon", "sparseness", "usage", "null", "n_recon_median_gap"]) expect(viaStore[k]).toEqual(inBody[k]);
    // the same stored file, another head (the only tensor is picked without layer=)
    const other = await post(`${HEAD(sad.head + 1)}/qk/sad?null_seeds=2&activations=${up.id}`, encodeSafetensors(weights));
    expect(other.status).toBe(201);
    // idempotent: the same request again is the stored result
    const again = await post(`${HEAD(sad.head)}/qk/sad?null_seeds=2&activations=${up.id}&layer=0`, encodeSafetensors(weights));
    expect(again.status).toBe(200);
    expect(((await again.json()) as any)).toMatchObject({ id: viaStore.id, computed: false });
    expect((await storedKeys()).r2).toEqual([`activations/v1/${up.id}.safetensors`]);
  });

  test("prompts of different lengths: lengths I32 [B] travels with the stored file; padding is never read", async () => {
    const { X, weights } = parts(); // [128, 768] F64
    const [T, d] = X.shape.slice(-2);
    const two = new Float64Array(2 * T * d);
    two.set(X.data as Float64Array, 0);
    two.set((X.data as Float64Array).subarray(0, 40 * d), T * d); // prompt 1: the first 40 positions, then zeros
    const lengths = { dtype: "I32" as const, shape: [2], data: Int32Array.from([T, 40]) };
    const up = await post("/v1/activations", encodeSafetensors({ "layer.0": { dtype: "F64", shape: [2, T, d], data: two }, lengths }));
    expect(up.status).toBe(201);
    const id = ((await up.json()) as any).id;
    const res = await post(`${HEAD(sad.head)}/qk/sad?null_seeds=0&activations=${id}&layer=0`, encodeSafetensors(weights));
    expect(res.status).toBe(201);
    const a = (await res.json()) as any;
    expect(a.choices.prompt_lengths).toContain("per prompt");
    expect(a.pairs.candidates).toBe((127 * 128) / 2 + (39 * 40) / 2); // d = 1..T_b−1, s = 1..d
    expect(a.usage_by_prompt).toHaveLength(2);
    // bad lengths are refused whole
    for (const bad of [Int32Array.from([T, 0]), Int32Array.from([T + 1, 3])]) {
      await expectProblem(
        await post("/v1/activations", encodeSafetensors({ "layer.0": { dtype: "F64", shape: [2, T, d], data: two }, lengths: { dtype: "I32", shape: [2], data: bad } })),
        422, "shape-mismatch",
      );
    }
    await expectProblem(
      await post("/v1/activations", encodeSafetensors({ "layer.0": { dtype: "F64", shape: [2, T, d], data: two }, lengths: { dtype: "I32", shape: [3], data: new Int32Array(3) } })),
      422, "shape-mismatch",
    );
  });

  test("bad ids: 400 when malformed, 404 when unknown, on GET and on SAD; nothing stored", async () => {
    const { weights } = parts();
    await expectProblem(await get("/v1/activations/not-hex"), 400, "invalid-request");
    await expectProblem(await get(`/v1/activations/${"A".repeat(64)}`), 400, "invalid-request");
    await expectProblem(await get(`/v1/activations/${"0".repeat(64)}`), 404, "not-found");
    await expectProblem(await post(`${HEAD(0)}/qk/sad?activations=xyz`, encodeSafetensors(weights)), 400, "invalid-request");
    await expectProblem(await post(`${HEAD(0)}/qk/sad?activations=${"0".repeat(64)}`, encodeSafetensors(weights)), 404, "not-found");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("bad selections: missing layer, two tensors without a choice, X in the body too, layer= without activations", async () => {
    const { X, weights } = parts();
    const up = (await (await post("/v1/activations", encodeSafetensors({ "layer.0": X, "layer.2": X }))).json()) as any;
    const before = await storedKeys();
    await expectProblem(await post(`${HEAD(0)}/qk/sad?activations=${up.id}&layer=1`, encodeSafetensors(weights)), 422, "missing-tensor");
    await expectProblem(await post(`${HEAD(0)}/qk/sad?activations=${up.id}`, encodeSafetensors(weights)), 400, "invalid-request");
    await expectProblem(await post(`${HEAD(0)}/qk/sad?activations=${up.id}&layer=0&tensor=layer.2`, encodeSafetensors(weights)), 400, "invalid-request");
    await expectProblem(await post(`${HEAD(0)}/qk/sad?activations=${up.id}&layer=0`, encodeSafetensors({ X, ...weights })), 400, "invalid-request");
    await expectProblem(await post(`${HEAD(0)}/qk/sad?layer=0`, encodeSafetensors({ X, ...weights })), 400, "invalid-request");
    expect(await storedKeys()).toEqual(before);
  });

  test("bad files are refused whole: nothing half-stored", async () => {
    const { X } = parts();
    const good = encodeSafetensors({ "layer.0": X });
    const nan = Float32Array.from(decodeFloat(parseSafetensors(good).tensors.get("layer.0")!));
    nan[nan.length - 1] = NaN;
    const cases: Array<[Uint8Array, number, string]> = [
      [good.subarray(0, good.byteLength - 16), 400, "malformed-safetensors"],
      [encodeSafetensors({ "layer.0": { dtype: "F32", shape: X.shape, data: nan } }), 422, "non-finite"],
      [encodeSafetensors({ "layer.0": X, W_Q: X }), 400, "invalid-request"],
      [encodeSafetensors({ X, "layer.0": X }), 400, "invalid-request"],
      [encodeSafetensors({ "layer.0": { dtype: "F32", shape: [4], data: new Float32Array(4) } }), 422, "shape-mismatch"],
      [encodeSafetensors({ "layer.0": X, "layer.1": { dtype: "F32", shape: [2, 3], data: new Float32Array(6) } }), 422, "shape-mismatch"],
      [encodeSafetensors({ "layer.0": { dtype: "I32", shape: [2, 2], data: new Int32Array(4) } }), 415, "unsupported-dtype"],
      [encodeSafetensors({}), 422, "missing-tensor"],
    ];
    for (const [body, status, type] of cases) await expectProblem(await post("/v1/activations", body), status, type);
    await expectProblem(await post("/v1/activations", good, "wrong-token-0123456789"), 401, "unauthorized");
    const big = new Uint8Array(48 * 1024 * 1024 + 1);
    await expectProblem(await post("/v1/activations", big), 413, "payload-too-large");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });
});
