/**
 * Errors in the user's terms (issue 13 item 5), through the Hono app with the real local R2 and KV:
 * a body that is not safetensors, a factor in PyTorch's [out, in] layout, a missing tensor reported
 * before any bias rule, unknown query options on every route that has options, an all-zero circuit,
 * the problem pages for every type, and the route index generated from the operations. Each error
 * stores nothing.
 */
import { reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, test } from "vitest";
import { app } from "../../src/app";
import { openApiPath } from "../../src/openapi/document";
import { OPERATIONS } from "../../src/openapi/operations";
import { queryOptionNames } from "../../src/routes/validate";
import { HeadOptionsSchema } from "../../src/wire/head-request";
import { PROBLEM_TYPES } from "../../src/wire/problem";
import { PROBLEM_HELP } from "../../src/wire/problem-help";
import { encodeSafetensors, type TensorOut } from "../../src/wire/safetensors";
import { expectProblem, storedKeys } from "../support/worker-assertions";

const TOKEN = "test-token-0123456789";
const PATH = "/v1/models/m/layers/0/heads/0";
const gpt2 = inject("gpt2L0H1");
const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const post = (path: string, body: BodyInit | null, headers: Record<string, string> = {}) =>
  app.request(path, { method: "POST", body, headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/octet-stream", ...headers } }, env);
const get = (path: string, headers: Record<string, string> = {}) => app.request(path, { headers }, env);

/** A [rows, cols] F32 tensor of distinct values (so no factor is accidentally zero or rank-deficient). */
const mat = (rows: number, cols: number, fill?: number): TensorOut => ({
  dtype: "F32", shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, (_, i) => fill ?? Math.sin(1 + i * 0.7)),
});
const vec = (n: number, fill?: number): TensorOut => ({ dtype: "F32", shape: [n], data: Float32Array.from({ length: n }, (_, i) => fill ?? Math.cos(i)) });

const escape = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

beforeEach(async () => {
  await reset();
});

describe("a body that is not safetensors at all", () => {
  test("a torch.save zip: 400 'not a safetensors file' saying what it looks like, no header length", async () => {
    const zip = new Uint8Array(400);
    zip.set([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]);
    const p = await expectProblem(await post(`${PATH}/qk`, zip), 400, "malformed-safetensors");
    expect(p.detail).toMatch(/^not a safetensors file: the body starts with a zip archive \(PyTorch's torch\.save/);
    expect(p.detail).not.toMatch(/header length \d/);
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("JSON sent as the body (the demo endpoint too)", async () => {
    const json = new TextEncoder().encode(JSON.stringify({ W_Q: [[1, 2]], W_K: [[3, 4]] }));
    const p = await expectProblem(await post(`${PATH}/qk`, json), 400, "malformed-safetensors");
    expect(p.detail).toMatch(/^not a safetensors file: the body starts with JSON text/);
    const d = await expectProblem(await post("/v1/demo/analyze", json), 400, "malformed-safetensors");
    expect(d.detail).toMatch(/^not a safetensors file/);
  });
});

describe("a factor in the [out, in] layout of nn.Linear is recognised", () => {
  test("W_K transposed: 422 naming W_K as transposed, with the shape to send", async () => {
    const p = await expectProblem(await post(`${PATH}/qk`, encodeSafetensors({ W_Q: mat(16, 4), W_K: mat(4, 16) })), 422, "shape-mismatch");
    expect(p.transposed).toEqual(["W_K"]);
    expect(p.detail).toMatch(/^W_K looks transposed: it is \[4, 16\], the \[out, in\] layout of PyTorch\/Hugging Face nn\.Linear weights; .*send W_K\.T, \[16, 4\]/);
  });

  test("both qk factors transposed (consistent with each other): still recognised, both named", async () => {
    const p = await expectProblem(await post(`${PATH}/qk`, encodeSafetensors({ W_Q: mat(4, 16), W_K: mat(4, 16) })), 422, "shape-mismatch");
    expect(p.transposed).toEqual(["W_Q", "W_K"]);
    expect(p.detail).toMatch(/^W_Q looks transposed: it is \[4, 16\].*send W_Q\.T, \[16, 4\].*d_model 4 would be smaller than d_head 16.*W_K \[4, 16\] looks transposed too/);
  });

  test("ov from Hugging Face slices (v_proj rows [d_head, d_model], o_proj columns [d_model, d_head])", async () => {
    const p = await expectProblem(await post(`${PATH}/ov`, encodeSafetensors({ W_V: mat(4, 16), W_O: mat(16, 4) })), 422, "shape-mismatch");
    expect(p.transposed).toEqual(["W_V", "W_O"]);
    const o = await expectProblem(await post(`${PATH}/ov`, encodeSafetensors({ W_V: mat(16, 4), W_O: mat(16, 4) })), 422, "shape-mismatch");
    expect(o.transposed).toEqual(["W_O"]);
    expect(o.detail).toMatch(/^W_O looks transposed: it is \[16, 4\].*\(row vectors, z W_O\), so send W_O\.T, \[4, 16\]/);
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("a shape that is wrong but not transposed keeps the plain message", async () => {
    const p = await expectProblem(await post(`${PATH}/qk`, encodeSafetensors({ W_Q: mat(16, 4), W_K: mat(16, 3) })), 422, "shape-mismatch");
    expect(p.transposed).toBeUndefined();
    expect(p.detail).toMatch(/^W_K must be \[16, 4\]/);
  });
});

describe("a missing required tensor is reported as missing, before any bias or fold rule", () => {
  test("W_Q and b_Q only: 422 missing W_K (not 'send both b_Q and b_K')", async () => {
    const p = await expectProblem(await post(`${PATH}/qk`, encodeSafetensors({ W_Q: mat(16, 4), b_Q: vec(4) })), 422, "missing-tensor");
    expect(p.tensor).toBe("W_K");
    expect(p.detail).toMatch(/circuit qk needs tensor W_K; body has W_Q, b_Q/);
  });

  test("with an option that would fail too (fold_ln=true without ln_w), and on ov, and on SAD with weights", async () => {
    const a = await expectProblem(await post(`${PATH}/qk?fold_ln=true&bias=augmented`, encodeSafetensors({ W_K: mat(16, 4) })), 422, "missing-tensor");
    expect(a.tensor).toBe("W_Q");
    const b = await expectProblem(await post(`${PATH}/ov?fold_ln=true`, encodeSafetensors({ W_V: mat(16, 4) })), 422, "missing-tensor");
    expect(b.tensor).toBe("W_O");
    const sad = encodeSafetensors({ X: mat(6, 16), W_Q: mat(16, 4), b_K: vec(4) });
    const c = await expectProblem(await post(`${PATH}/qk/sad`, sad), 422, "missing-tensor");
    expect(c.tensor).toBe("W_K");
    const d = await expectProblem(await post("/v1/demo/analyze", encodeSafetensors({ W_Q: mat(16, 4), b_Q: vec(4) })), 422, "missing-tensor");
    expect(d.tensor).toBe("W_K");
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });
});

describe("unknown query options are refused, naming them and listing the valid ones", () => {
  const withQuery = OPERATIONS.filter((op) => op.query);
  test("there are routes with query options (the loop below is not empty)", () => {
    expect(withQuery.map((op) => op.operationId)).toEqual(
      expect.arrayContaining(["postHead", "getHead", "getHeadVectors", "postSad", "postAlignment", "demoAnalyze"]),
    );
  });
  const SAMPLE: Record<string, string> = { model: "m", layer: "0", head: "0", circuit: "qk", id: "0".repeat(64), sha256: "0".repeat(64) };
  for (const op of withQuery) {
    test(`${op.method.toUpperCase()} ${op.path}`, async () => {
      const path = op.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, k: string) => SAMPLE[k] ?? "x");
      const init: RequestInit = { method: op.method.toUpperCase(), headers: { authorization: `Bearer ${TOKEN}` } };
      const res = await app.request(`${path}?fold_LN=false&vectors=f32x&tau=1&bogus=1`, init, env);
      const p = await expectProblem(res, 400, "invalid-request");
      const valid = queryOptionNames(op.query!);
      const unknown = ["fold_LN", "vectors", "tau", "bogus"].filter((k) => !valid.includes(k));
      expect(p.unknown, String(p.detail)).toEqual(unknown);
      expect(p.valid).toEqual(valid);
      expect(p.detail).toBe(`unknown query options ${unknown.join(", ")}; valid options here: ${valid.join(", ")}`);
    });
  }

  test("a known option is still validated by value, and valid options still work", async () => {
    await expectProblem(await post(`${PATH}/qk?vectors=f64`, bytes(gpt2.qk)), 400, "invalid-request");
    const ok = await post(`${PATH}/qk?fold_ln=true&vectors=none`, bytes(gpt2.qk));
    expect(ok.status).toBe(201);
  });
});

describe("an all-zero circuit is refused (zero-circuit), never stored with every check passed", () => {
  test("W_Q all zeros", async () => {
    const p = await expectProblem(await post(`${PATH}/qk`, encodeSafetensors({ W_Q: mat(16, 4, 0), W_K: mat(16, 4) })), 422, "zero-circuit");
    expect(p.tensors).toEqual(["W_Q"]);
    expect(p.detail).toMatch(/^the qk circuit is zero: W_Q is all zeros, so every singular value is 0/);
    expect(await storedKeys()).toEqual({ kv: [], r2: [] });
  });

  test("both ov factors zero; and a factor that only centring empties (every row the same)", async () => {
    const o = await expectProblem(await post(`${PATH}/ov`, encodeSafetensors({ W_V: mat(16, 4, 0), W_O: mat(4, 16, 0) })), 422, "zero-circuit");
    expect(o.tensors).toEqual(["W_V", "W_O"]);
    const sameRows: TensorOut = { dtype: "F32", shape: [16, 4], data: Float32Array.from({ length: 64 }, (_, i) => 1 + (i % 4)) };
    const body = encodeSafetensors({ W_Q: sameRows, W_K: mat(16, 4), ln_w: vec(16, 1), ln_b: vec(16, 0) });
    const c = await expectProblem(await post(`${PATH}/qk`, body), 422, "zero-circuit");
    expect(c.detail).toMatch(/W_Q is all zeros after folding ln_w and centring/);
    expect((await post(`${PATH}/qk?fold_ln=false`, body)).status).toBe(201); // unfolded it is not zero
  });

  test("a zero bias row alone keeps the circuit (augmented factor [W; 0] is not zero)", async () => {
    const body = encodeSafetensors({ W_Q: mat(16, 4), W_K: mat(16, 4), b_Q: vec(4, 0), b_K: vec(4, 0) });
    expect((await post(`${PATH}/qk`, body)).status).toBe(201);
  });

  test("the demo endpoint refuses it too", async () => {
    await expectProblem(await post("/v1/demo/analyze", encodeSafetensors({ W_Q: mat(16, 4), W_K: mat(16, 4, 0) })), 422, "zero-circuit");
  });
});

describe("GET /problems/{slug} explains every problem type and what to do", () => {
  for (const slug of Object.keys(PROBLEM_TYPES) as Array<keyof typeof PROBLEM_TYPES>) {
    test(slug, async () => {
      const j = await get(`/problems/${slug}`);
      expect(j.status).toBe(200);
      expect(j.headers.get("content-type")).toMatch(/^application\/json/);
      expect(j.headers.get("vary")).toMatch(/accept/i);
      const body = (await j.json()) as Record<string, unknown>;
      expect(body).toEqual({ type: `/problems/${slug}`, ...PROBLEM_TYPES[slug], ...PROBLEM_HELP[slug] });
      expect(String(body.meaning).length).toBeGreaterThan(30);
      expect(String(body.action).length).toBeGreaterThan(20);

      const h = await get(`/problems/${slug}`, { accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
      expect(h.status).toBe(200);
      expect(h.headers.get("content-type")).toMatch(/^text\/html/);
      const page = await h.text();
      expect(page).toContain(`<h1>${PROBLEM_TYPES[slug].title}</h1>`);
      expect(page).toContain("What to do");
      expect(page).not.toMatch(/<script/i);
      // the backquoted words of the help text become <code>, everything else is escaped text
      for (const text of [PROBLEM_HELP[slug].meaning, PROBLEM_HELP[slug].action]) {
        const parts = text.split("`");
        expect(page).toContain(escape(parts[0]));
        if (parts.length > 1) expect(page).toContain(`<code>${escape(parts[1])}</code>`);
      }
    });
  }

  test("every error the app answers points at a page that exists", async () => {
    const p = await expectProblem(await post(`${PATH}/qk`, encodeSafetensors({ W_Q: mat(16, 4, 0), W_K: mat(16, 4) })), 422, "zero-circuit");
    expect((await get(String(p.type))).status).toBe(200);
    await expectProblem(await get("/problems/no-such-thing"), 404, "not-found");
  });
});

describe("GET /v1 lists every route, generated from the operations", () => {
  test("one entry per operation, /v1/models included, with the token and query options", async () => {
    const res = await get("/v1");
    expect(res.status).toBe(200);
    const index = (await res.json()) as { routes: Array<{ method: string; path: string; summary: string; auth: boolean; query?: string[] }> };
    expect(index.routes.map((r) => `${r.method} ${r.path}`)).toEqual(OPERATIONS.map((op) => `${op.method.toUpperCase()} ${openApiPath(op.path)}`));
    expect(index.routes).toContainEqual(expect.objectContaining({ method: "GET", path: "/v1/models", auth: false }));
    expect(index.routes).toContainEqual(expect.objectContaining({ method: "GET", path: "/v1/models/{model}/summary" }));
    const postHead = index.routes.find((r) => r.method === "POST" && r.path === "/v1/models/{model}/layers/{layer}/heads/{head}/{circuit}")!;
    expect(postHead.auth).toBe(true);
    expect(postHead.query).toEqual(queryOptionNames(HeadOptionsSchema));
    expect(postHead.query).toEqual(expect.arrayContaining(["fold_ln", "bias", "scale", "norm", "overwrite", "vectors"]));
  });
});
