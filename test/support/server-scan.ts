/**
 * Helpers of the server-side scan tests inside workerd: upload a checkpoint through the real HTTP API
 * (multipart parts, complete, register), start a job, and wait for it with real queue delivery.
 */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import { UPLOAD_PART_BYTES } from "../../src/wire/checkpoint";

export const TOKEN = "test-token-0123456789";
export const BASE = "https://headscope.test";

export function call(method: string, path: string, body?: BodyInit | null, headers: Record<string, string> = {}) {
  return exports.default.fetch(
    new Request(`${BASE}${path}`, { method, body: body ?? null, headers: { authorization: `Bearer ${TOKEN}`, ...headers } }),
  );
}
export const getJson = async (path: string) => {
  const r = await exports.default.fetch(new Request(`${BASE}${path}`));
  return { status: r.status, body: (await r.json()) as any };
};

export async function sha256Hex(b: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/** Uploads one shard (skipped when already stored); returns its sha256 and whether bytes were sent. */
export async function uploadShard(bytes: Uint8Array): Promise<{ sha256: string; sent: boolean }> {
  const sha256 = await sha256Hex(bytes);
  const start = await call("POST", `/v1/checkpoints/blobs/${sha256}/uploads`);
  const s = (await start.json()) as any;
  if (s.exists) return { sha256, sent: false };
  expect(start.status).toBe(201);
  const parts = [];
  for (let off = 0, n = 1; off < bytes.length; off += UPLOAD_PART_BYTES, n++) {
    const part = bytes.subarray(off, Math.min(bytes.length, off + UPLOAD_PART_BYTES));
    const r = await call("PUT", `/v1/checkpoints/blobs/${sha256}/uploads/${s.upload_id}/parts/${n}`, part.slice(), {
      "content-length": String(part.length),
    });
    expect(r.status).toBe(200);
    parts.push(await r.json());
  }
  const done = await call("POST", `/v1/checkpoints/blobs/${sha256}/uploads/${s.upload_id}/complete`, JSON.stringify({ parts }));
  expect(done.status).toBe(201);
  return { sha256, sent: true };
}

/** Uploads every file and registers the checkpoint; returns its id. */
export async function uploadCheckpoint(
  name: string,
  files: Record<string, Uint8Array>,
  extra: { weight_map?: Record<string, string>; config?: Record<string, unknown> } = {},
): Promise<string> {
  const listed = [];
  for (const [file, bytes] of Object.entries(files)) listed.push({ name: file, sha256: (await uploadShard(bytes)).sha256, bytes: bytes.length });
  const r = await call("POST", "/v1/checkpoints", JSON.stringify({ name, files: listed, ...extra }));
  const body = (await r.json()) as any;
  expect([200, 201], JSON.stringify(body)).toContain(r.status);
  return body.id;
}

export async function startJob(body: Record<string, unknown>) {
  const r = await call("POST", "/v1/scans", JSON.stringify(body), { "content-type": "application/json" });
  return { status: r.status, body: (await r.json()) as any };
}

/** Polls the job until it is no longer running (queue batches are delivered after up to 1 s). */
export async function waitForJob(id: string, timeoutMs = 45_000): Promise<any> {
  const t0 = Date.now();
  for (;;) {
    const { body } = await getJson(`/v1/scans/${id}`);
    // the report is written right after the last head lands (an alarm of the job): wait for it too
    const settled = body.state !== "running" && !(body.state === "finished" && body.report === "pending");
    if (settled || Date.now() - t0 > timeoutMs) return body;
    await new Promise((r) => setTimeout(r, 200));
  }
}
