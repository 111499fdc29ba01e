/**
 * The OpenAPI document as a client sees it, against the real local worker (wrangler dev, local R2/KV):
 * the served /openapi.json is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator), the
 * committed client types cover every path of it, and the TypeScript client example (openapi-fetch)
 * posts a real GPT-2 head and reads the result and its vectors back, equal to LAPACK's spectrum.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { postAndReadHead } from "../../examples/client";
import { parseSafetensors, decodeFloat } from "../../src/wire/safetensors";
import { gpt2Head, headBody, spectraReference } from "../support/gpt2";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";
import { PROJECT_ROOT } from "../support/paths";

let worker: LocalWorker;
let doc: any;

beforeAll(async () => {
  worker = await startLocalWorker();
}, 120_000);

afterAll(async () => {
  await worker?.stop();
});

// The client tests run before the validator's long synchronous compile: wrangler dev closes keep-alive
// connections that stay idle for a few seconds, and when this process's event loop is blocked meanwhile,
// undici does not see the close and sends the next request on the dead socket ("other side closed").
describe("the TypeScript client example", () => {
  test("posts a real GPT-2 head with openapi-fetch and reads it and its vectors back", async () => {
    const body = headBody(gpt2Head(0, 1), "qk");
    const { status, summary, vectors } = await postAndReadHead(worker.url, worker.token, "gpt2-small", 0, 1, body);
    expect(status).toBe(201);
    const ref = spectraReference().heads.find((h) => h.layer === 0 && h.head === 1)!.qk.folded_augmented;
    expect(summary.variant.name).toBe("folded_augmented");
    for (let i = 0; i < 8; i++) expect(Math.abs(summary.singular_values[i] - ref[i]) / ref[0]).toBeLessThan(1e-6);
    const st = parseSafetensors(vectors);
    expect(st.tensors.get("U")!.shape).toEqual([769, 64]);
    expect(Array.from(decodeFloat(st.tensors.get("S")!))).toEqual(summary.singular_values);
    // again: identical input is not computed twice
    expect((await postAndReadHead(worker.url, worker.token, "gpt2-small", 0, 1, body)).status).toBe(200);
  });

  test("a wrong token comes back as the documented problem", async () => {
    await expect(postAndReadHead(worker.url, "wrong-token", "gpt2-small", 0, 2, headBody(gpt2Head(0, 2), "qk"))).rejects.toThrow(
      "/problems/unauthorized: the bearer token is not valid",
    );
  });

  const python = spawnSync("python3", ["-c", "import requests, numpy"]).status === 0;
  test.skipIf(!python)("the Python example (requests) in the README posts the same head and reads it back", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "client-py-")), "l0h1-qk.safetensors");
    writeFileSync(file, headBody(gpt2Head(0, 1), "qk", { ln: false, bias: false }));
    // asynchronously: a blocked event loop would leave this process's idle connections stale (see above)
    const run = await promisify(execFile)("python3", [join(PROJECT_ROOT, "examples", "client.py"), worker.url, worker.token, file], { timeout: 60_000 });
    const out = JSON.parse(run.stdout);
    expect(out.status).toBe(201);
    expect(out.variant).toBe("raw");
    expect(out.U).toEqual([768, 64]);
    const ref = spectraReference().heads.find((h) => h.layer === 0 && h.head === 1)!.qk.raw;
    for (let i = 0; i < 8; i++) expect(Math.abs(out.sigma[i] - ref[i]) / ref[0]).toBeLessThan(1e-6);
    expect(out.S).toEqual(out.sigma); // the vectors file's S, parsed in Python, is the summary's σ
  });
});

describe("the served OpenAPI document", () => {
  test("is valid OpenAPI 3.1", async () => {
    doc = await (await fetch(`${worker.url}/openapi.json`)).json();
    const validator = new Validator();
    const res = await validator.validate(doc);
    expect(res.errors ?? [], JSON.stringify(res.errors, null, 1)?.slice(0, 2000)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  test("the validator does reject a broken document (so the check above can fail)", async () => {
    const broken = structuredClone(doc);
    delete broken.paths["/v1/models"].get.responses;
    broken.paths["/v1/models/{model}/summary"].get.parameters[0].in = "body";
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  test("the committed client types (examples/headscope-api.d.ts) cover every path; else run npm run client:types", () => {
    const types = readFileSync(join(PROJECT_ROOT, "examples", "headscope-api.d.ts"), "utf8");
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { operationId: string }>>)) {
      expect(types, path).toContain(`"${path}": {`);
      for (const op of Object.values(item)) expect(types, op.operationId).toContain(`${op.operationId}: {`);
    }
  });
});
