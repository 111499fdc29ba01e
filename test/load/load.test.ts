/**
 * The short version of `npm run load`, so CI keeps it honest: real GPT-2 heads against the real
 * local worker at concurrency 8; 0 errors, nothing lost, nothing duplicated, re-posts idempotent.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { runLoad } from "../../scripts/load/run-load";
import { startLocalWorker, type LocalWorker } from "../support/local-worker";
import { checkConsistency, readStoredState } from "../support/stored-state";

let worker: LocalWorker;
beforeAll(async () => {
  worker = await startLocalWorker();
}, 120_000);
afterAll(async () => {
  await worker?.stop();
});

test("60 SVD writes and 60 mixed requests at concurrency 8", async () => {
  const r = await runLoad({ url: worker.url, token: worker.token, writes: 60, mixed: 60, connections: 8 });
  expect(r.write.statuses).toEqual({ 201: 60 });
  expect(r.mixed.errors).toBe(0);
  // re-posts of stored heads are answered 200 (idempotent), reads 200: never a second 201
  expect(r.mixed.statuses).toEqual({ 200: 60 });
  expect(r.check).toEqual({ results: 60, lost: 0, wrongInput: 0, missingVectors: 0, distinctVectorKeys: 60 });
  await worker.stop({ keepState: true });
  expect(checkConsistency(await readStoredState(worker.persistDir))).toEqual({ summaries: 60, objects: 60, dangling: 0, orphans: [], shared: [] });
}, 300_000);
