/**
 * The short version of `npm run faults`: SIGKILL the real local worker while writes are in flight,
 * restart it on the same state, post everything again: byte-identical to an uninterrupted run, with
 * nothing orphaned or dangling.
 */
import { expect, test } from "vitest";
import { runWriteFault } from "../../scripts/faults/write-fault";

test("a crash in the middle of writes loses and corrupts nothing", async () => {
  const r = await runWriteFault({ heads: 16, killAfter: 8, concurrency: 4 });
  expect(r.baselineStatuses).toEqual({ 201: 16 });
  expect(r.beforeCrash["network error"]).toBeGreaterThan(0); // the crash really interrupted writes
  expect(r.differences).toEqual([]);
  expect(r.consistency).toEqual({ summaries: 16, objects: 16, dangling: 0, orphans: [], shared: [] });
  // on resume, what was stored before the crash is not computed again
  expect((r.resume["200"] ?? 0) + (r.resume["201"] ?? 0)).toBe(16);
  expect(r.resume["200"] ?? 0).toBeGreaterThanOrEqual(8);
}, 300_000);
