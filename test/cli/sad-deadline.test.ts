/** A SAD request's deadline grows with its work (cli/sad.ts sadFlops → fan-out.ts requestDeadlineMs). */
import { expect, test } from "vitest";
import type { Architecture } from "../../src/cli/architectures";
import { DEFAULT_DEADLINE, requestDeadlineMs } from "../../src/cli/fan-out";
import type { ScanTask } from "../../src/cli/plan";
import { sadFlops } from "../../src/cli/sad";

const gpt2 = { facts: { d_model: 768, d_head: 64 } } as Architecture;
const task = { circuit: "qk", variant: "folded_augmented", layer: 0, head: 0, offset: 0 } as ScanTask;

test("ioi:128 on GPT-2 small gets about two minutes at -c 4, not the 10 s floor of an empty request", () => {
  const flops = sadFlops(gpt2, task, 128, 21);
  expect(flops).toBeGreaterThan(1e9);
  const ms = requestDeadlineMs(8_000, flops, 4, DEFAULT_DEADLINE);
  expect(ms).toBeGreaterThan(60_000);
  expect(ms).toBeLessThan(300_000);
  // a handful of short prompts stays near the floor
  expect(requestDeadlineMs(8_000, sadFlops(gpt2, task, 4, 8), 4, DEFAULT_DEADLINE)).toBeLessThan(20_000);
  expect(sadFlops(gpt2, task, 256, 21)).toBeGreaterThan(1.9 * sadFlops(gpt2, task, 128, 21) - sadFlops(gpt2, task, 0, 21));
});
