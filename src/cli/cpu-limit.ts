/**
 * @module cli/cpu-limit
 * The CPU limit of the embedded local worker, as a deployment's `[limits] cpu_ms` (wrangler.toml).
 * workerd does not enforce CPU limits itself (its limit enforcer is a no-op outside Cloudflare's
 * network), so a runaway request would block the isolate, and with it every other request, for
 * ever. This supervisor is the honest local equivalent: it samples the CPU time of workerd's main
 * thread (the isolate's thread; Linux /proc/PID/task/PID/stat) and the requests the CLI has in
 * flight. When the isolate has burnt more than `cpuMs × max(1, in flight)` of CPU since the last
 * answer arrived — so at least one request in flight has used more than cpu_ms — it kills workerd
 * and starts it again on the same port and state, as the platform resets an isolate; the requests
 * in flight then fail with the problem `cpu-limit-exceeded` (503, retried like a deployment's 503).
 * The oldest request in flight at that moment is the one charged a retry: a request that never
 * yields blocks all those that came after it. Elsewhere than Linux it does nothing.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import type { InFlight, WorkerSupervision } from "./fan-out";

/** `[limits] cpu_ms` of wrangler.toml (Cloudflare's default, 30 s, when absent). */
export function readCpuLimitMs(root: string): number {
  const toml = parse(readFileSync(join(root, "wrangler.toml"), "utf8")) as { limits?: { cpu_ms?: number } };
  const ms = Number(toml.limits?.cpu_ms);
  return Number.isFinite(ms) && ms > 0 ? ms : 30_000;
}

/** CPU time (user + system) of a process's main thread in ms, or undefined when unreadable. */
export function mainThreadCpuMs(pid: number): number | undefined {
  const file = `/proc/${pid}/task/${pid}/stat`;
  if (!existsSync(file)) return undefined;
  try {
    // fields after the command name: state is field 3, utime 14, stime 15 (clock ticks of 10 ms: USER_HZ is 100)
    const stat = readFileSync(file, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

export interface Restart {
  /** ISO time */
  at: string;
  reason: "cpu-limit-exceeded";
  /** main-thread CPU burnt since the last answer, ms */
  cpu_ms: number;
  in_flight: number;
}

export class CpuLimitSupervisor implements WorkerSupervision {
  private inFlight = new Set<number>(); // ids, in start order
  private nextId = 0;
  private baseline: number | undefined;
  private answered = false;
  private timer: NodeJS.Timeout;
  private restarting: Promise<void> | undefined;
  private kills: Array<{ ids: Set<number>; oldest: number; record: Restart }> = [];

  constructor(
    private readonly opts: {
      cpuMs: number;
      /** workerd's pid now (it changes on restart) */
      pid: () => number | undefined;
      /** kill workerd and start it again on the same port and state */
      restart: () => Promise<void>;
      intervalMs?: number;
    },
  ) {
    this.timer = setInterval(() => this.tick(), opts.intervalMs ?? 250);
    this.timer.unref();
  }

  get restarts(): Restart[] {
    return this.kills.map((k) => k.record);
  }

  ready(): Promise<void> {
    return this.restarting ?? Promise.resolve();
  }

  get isRestarting(): boolean {
    return this.restarting !== undefined;
  }

  /** Work this process did for requests answered elsewhere (the pool's primary stores for every process): progress. */
  progress(): void {
    this.answered = true;
  }

  begin(): InFlight {
    const id = this.nextId++;
    this.inFlight.add(id);
    return {
      id,
      end: (answered) => {
        this.inFlight.delete(id);
        if (answered) this.answered = true;
      },
    };
  }

  explainLoss(r: InFlight) {
    const k = this.kills.find((x) => x.ids.has(r.id));
    if (!k) return undefined;
    return {
      type: "cpu-limit-exceeded",
      status: 503,
      detail:
        `the local worker's isolate burnt ${k.record.cpu_ms} ms of CPU with ${k.record.in_flight} request(s) in flight and no answer ` +
        `(limit cpu_ms = ${this.opts.cpuMs} per request, wrangler.toml [limits]); it was restarted`,
      charged: k.oldest === r.id,
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.restarting) return;
    const pid = this.opts.pid();
    const cpu = pid === undefined ? undefined : mainThreadCpuMs(pid);
    if (cpu === undefined) return;
    if (this.baseline === undefined || this.answered) {
      this.baseline = cpu;
      this.answered = false;
      return;
    }
    const burnt = cpu - this.baseline;
    const n = this.inFlight.size;
    if (burnt <= this.opts.cpuMs * Math.max(1, n)) return;
    const ids = new Set(this.inFlight);
    const record: Restart = { at: new Date().toISOString(), reason: "cpu-limit-exceeded", cpu_ms: burnt, in_flight: n };
    this.kills.push({ ids, oldest: ids.size ? Math.min(...ids) : -1, record });
    this.baseline = undefined;
    this.restarting = this.opts.restart().finally(() => (this.restarting = undefined));
  }
}
