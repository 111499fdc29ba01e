/**
 * The local CPU limit's supervisor (src/cli/cpu-limit.ts) against a real process burning CPU: it
 * restarts the "worker" once the isolate thread has burnt more than cpu_ms × requests in flight
 * without an answer, charges the oldest request in flight and lets the others retry for free, and
 * reads `[limits] cpu_ms` from wrangler.toml.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { expect, test } from "vitest";
import { CpuLimitSupervisor, mainThreadCpuMs, readCpuLimitMs } from "../../src/cli/cpu-limit";
import { ROOT } from "../support/cli";

test("wrangler.toml's [limits] cpu_ms is the local limit", () => {
  expect(readCpuLimitMs(ROOT)).toBe(30_000);
});

test.runIf(existsSync("/proc/self/task"))("a busy isolate thread with no answer is restarted; the oldest request is charged", async () => {
  const busy = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  try {
    expect(mainThreadCpuMs(busy.pid!)).toBeTypeOf("number");
    let restarted = 0;
    const sup = new CpuLimitSupervisor({
      cpuMs: 200, pid: () => busy.pid, intervalMs: 50,
      restart: async () => {
        restarted++;
      },
    });
    const first = sup.begin();
    const second = sup.begin();
    // two in flight: the limit is 2 × 200 ms of CPU; generous bound for a loaded machine
    const t0 = Date.now();
    while (restarted === 0 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
    sup.stop();
    expect(restarted).toBe(1);
    expect(sup.restarts[0]).toMatchObject({ reason: "cpu-limit-exceeded", in_flight: 2 });
    expect(sup.restarts[0].cpu_ms).toBeGreaterThan(400);
    expect(sup.explainLoss(first)).toMatchObject({ type: "cpu-limit-exceeded", status: 503, charged: true });
    expect(sup.explainLoss(second)).toMatchObject({ type: "cpu-limit-exceeded", charged: false });
    // a request that started after the restart is not explained by it
    expect(sup.explainLoss(sup.begin())).toBeUndefined();
  } finally {
    busy.kill("SIGKILL");
  }
}, 90_000);

test.runIf(existsSync("/proc/self/task"))("answers keep resetting the budget: a busy worker that answers is never restarted", async () => {
  const busy = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
  try {
    let restarted = 0;
    const sup = new CpuLimitSupervisor({ cpuMs: 300, pid: () => busy.pid, intervalMs: 50, restart: async () => void restarted++ });
    // each request is answered after ≈100 ms of wall time, far below 300 ms of CPU
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      const r = sup.begin();
      await new Promise((res) => setTimeout(res, 100));
      r.end(true);
    }
    sup.stop();
    expect(restarted).toBe(0);
  } finally {
    busy.kill("SIGKILL");
  }
}, 30_000);
