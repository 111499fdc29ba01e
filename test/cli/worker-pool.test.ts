/**
 * The local worker pool's routing (src/cli/worker-pool.ts): head requests go to the processes other
 * than the storage-owning primary, each to the one with the fewest in flight (ties rotate); the
 * primary serves only while every other process restarts; an answer elsewhere is progress for the
 * primary; a lost request is explained by the supervisor of the process it went to. The end-to-end
 * behaviour on real workerd processes is in local-processes.test.ts.
 */
import { expect, test } from "vitest";
import type { CpuLimitSupervisor } from "../../src/cli/cpu-limit";
import { WorkerPool } from "../../src/cli/worker-pool";

/** A supervisor's observable surface, recording what the pool tells it. */
function fakeSupervisor(name: string) {
  let id = 0;
  const state = { name, restarting: false, progress: 0, begun: 0, explained: [] as number[] };
  const sup = {
    get isRestarting() {
      return state.restarting;
    },
    ready: () => Promise.resolve(),
    progress: () => void state.progress++,
    begin: () => {
      state.begun++;
      return { id: id++, end: () => undefined };
    },
    explainLoss: (r: { id: number }) => {
      state.explained.push(r.id);
      return { type: "cpu-limit-exceeded", status: 503, detail: name, charged: true };
    },
  };
  return { state, sup: sup as unknown as CpuLimitSupervisor };
}

test("requests go to the least-loaded non-primary process; the primary only while all others restart", () => {
  const [p, a, b] = ["primary", "a", "b"].map(fakeSupervisor);
  const pool = new WorkerPool([
    { origin: "http://p", supervisor: p.sup },
    { origin: "http://a", supervisor: a.sup },
    { origin: "http://b", supervisor: b.sup },
  ]);
  const flights = Array.from({ length: 4 }, () => pool.begin());
  expect(flights.map((f) => f.origin)).toEqual(["http://a", "http://b", "http://a", "http://b"]);
  expect(pool.served).toEqual([0, 2, 2]);
  // a finishes one: it now has the fewest in flight
  flights[0].end(true);
  expect(pool.begin().origin).toBe("http://a");
  // an answer from another process counts as progress for the primary (it stored for it)
  expect(p.state.progress).toBe(1);
  // b restarting: everything goes to a
  b.state.restarting = true;
  expect([pool.begin().origin, pool.begin().origin]).toEqual(["http://a", "http://a"]);
  // all others restarting: the primary serves
  a.state.restarting = true;
  const onPrimary = pool.begin();
  expect(onPrimary.origin).toBe("http://p");
  // a loss is explained by the supervisor of the process the request went to
  expect(pool.explainLoss(onPrimary)).toMatchObject({ detail: "primary" });
  expect(pool.explainLoss(flights[1])).toMatchObject({ detail: "b" });
  expect(p.state.begun).toBe(1);
});

test("ready() waits for the primary, whose storage every request needs", async () => {
  const [p, a] = ["primary", "a"].map(fakeSupervisor);
  let release!: () => void;
  const restarting = new Promise<void>((r) => (release = r));
  (p.sup as unknown as { ready: () => Promise<void> }).ready = () => restarting;
  const pool = new WorkerPool([{ origin: "http://p", supervisor: p.sup }, { origin: "http://a", supervisor: a.sup }]);
  let ready = false;
  const waiting = pool.ready().then(() => (ready = true));
  await new Promise((r) => setTimeout(r, 20));
  expect(ready).toBe(false);
  release();
  await waiting;
  expect(ready).toBe(true);
});
