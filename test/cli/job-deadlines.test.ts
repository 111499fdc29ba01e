/**
 * The queue consumer's deadline per head (src/jobs/head-deadline.ts) and how long the CLI follows a
 * job that shows no activity (src/cli/server-scan.ts followStallMs): both grow with the head's size
 * and work, and scale with SCAN_DEADLINE_SCALE / --deadline-scale.
 */
import { describe, expect, it } from "vitest";
import { deadlineScale, headDeadlineMs } from "../../src/jobs/head-deadline";
import { followStallMs } from "../../src/cli/server-scan";

describe("consumer deadline per head", () => {
  it("gives a GPT-2 small head about 24 s and a Llama-3-8B head about 6 min", () => {
    expect(headDeadlineMs({ d_model: 768, d_head: 64 }, true, 1) / 1000).toBeCloseTo(23.9, 0);
    const llama = headDeadlineMs({ d_model: 4096, d_head: 128 }, true, 1) / 1000;
    expect(llama).toBeGreaterThan(300);
    expect(llama).toBeLessThan(400);
  });
  it("grows with the head and scales linearly", () => {
    expect(headDeadlineMs({ d_model: 2048, d_head: 64 }, false, 1)).toBeGreaterThan(headDeadlineMs({ d_model: 1024, d_head: 64 }, false, 1));
    expect(headDeadlineMs({ d_model: 768, d_head: 128 }, false, 1)).toBeGreaterThan(headDeadlineMs({ d_model: 768, d_head: 64 }, false, 1));
    expect(headDeadlineMs({ d_model: 768, d_head: 64 }, true, 0.5)).toBeCloseTo(headDeadlineMs({ d_model: 768, d_head: 64 }, true, 1) / 2, -1);
  });
  it("reads SCAN_DEADLINE_SCALE, falling back to 1 for anything not a positive number", () => {
    expect(deadlineScale({})).toBe(1);
    expect(deadlineScale({ SCAN_DEADLINE_SCALE: "0.25" })).toBe(0.25);
    expect(deadlineScale({ SCAN_DEADLINE_SCALE: "0" })).toBe(1);
    expect(deadlineScale({ SCAN_DEADLINE_SCALE: "fast" })).toBe(1);
  });
});

describe("following a job", () => {
  it("gives up after 3 × (the largest head's deadline + the longest retry delay) without activity", () => {
    expect(followStallMs({ head_deadline_ms: 24_000 }, 1)).toBe(3 * (24_000 + 60_000));
    // a worker that does not say (older): the deadline of a very large head
    expect(followStallMs({}, 1)).toBe(3 * (15 * 60_000 + 60_000));
    expect(followStallMs({}, 2)).toBeGreaterThan(followStallMs({}, 1));
  });
});
