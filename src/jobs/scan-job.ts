/**
 * @module jobs/scan-job
 * The ScanJob Durable Object: one per server-side scan job, the single consistent record of it. Its
 * SQLite storage holds the job's spec and one row per task (planned → enqueued → done | failed, with
 * attempts, the report entry and the kernel that answered). Consumers report every outcome here; a
 * Durable Object runs one call at a time, so concurrent consumers cannot lose or double-count a head
 * (a redelivered message finds its row already done and changes nothing).
 *
 * Flow control: the job keeps at most SCAN_WINDOW messages in flight and tops the queue up as heads
 * land, so `cancel()` stops the rest from ever being sent; heads in flight when progress stalls are
 * sent again (recoverIfStalled). When the last head lands it writes the
 * report (cli/report.ts, the CLI's format) and each model's summary into R2.
 */
import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../env";
import type { ArchitectureFacts } from "../cli/architectures";
import { taskLabel, type ScanTask } from "../cli/plan";
import { assembleReport, type ReportEntry, type ReportFailure } from "../cli/report";
import { summarizeModel } from "../services/summarize-model";
import { deadlineScale, headDeadlineMs } from "./head-deadline";
import { ResultStore } from "../storage/result-store";
import { ScanStore } from "../storage/scan-store";
import type { ResolvedScanOptions } from "../wire/scan-options";
import type { ScanJobStatus, ScanMessage } from "../wire/scan-job";
import type { VectorsPolicy } from "../wire/head-request";

export interface JobSpec {
  id: string;
  checkpoint: string;
  model: string;
  arch: ScanMessage["arch"];
  overrides: ScanMessage["overrides"];
  files: string[];
  dtypes: string[];
  facts: ArchitectureFacts;
  kvHeadOf: number[];
  options: ResolvedScanOptions & { vectors?: VectorsPolicy };
}

export interface Landing {
  entry: ReportEntry;
  computed: boolean;
  kernel: { name: string; simd: boolean };
}

export interface TaskFailure {
  type: string;
  status?: number;
  detail: string;
}

type State = ScanJobStatus["state"];
type Status = "planned" | "enqueued" | "done" | "failed";

/** sendBatch takes at most 100 messages. */
const SEND_BATCH = 100;
const MAX_LISTED_FAILURES = 20;
/** ids per UPDATE … IN (…): Durable Object SQLite allows 100 bound parameters, one is the status */
const SQL_PARAMS = 90;
/** when a send or the final write fails, try again this much later */
const RETRY_MS = 5_000;

export class ScanJob extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS tasks (idx INTEGER PRIMARY KEY, spec TEXT NOT NULL, status TEXT NOT NULL, computed INTEGER NOT NULL DEFAULT 0, " +
        "attempts INTEGER NOT NULL DEFAULT 0, entry TEXT, kernel TEXT, error TEXT)",
    );
    this.sql.exec("CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status, idx)");
  }

  // ── meta ──
  private get<T>(k: string): T | undefined {
    const rows = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray();
    return rows.length ? (JSON.parse(rows[0].v) as T) : undefined;
  }
  private set(k: string, v: unknown): void {
    this.sql.exec("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, JSON.stringify(v));
  }
  private bump(k: string, by = 1): void {
    this.set(k, (this.get<number>(k) ?? 0) + by);
  }
  private get spec(): JobSpec | undefined {
    return this.get<JobSpec>("spec");
  }
  private get state(): State | undefined {
    return this.get<State>("state");
  }
  private count(where: string, ...args: unknown[]): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE ${where}`, ...args).one().n;
  }

  /** Creates the job (once: a second call returns the existing job) and sends the first window. */
  async create(spec: JobSpec, tasks: ScanTask[]): Promise<ScanJobStatus | undefined> {
    if (!this.spec) {
      this.ctx.storage.transactionSync(() => {
        this.set("spec", spec);
        this.set("state", "running");
        this.set("started", new Date().toISOString());
        this.set("finished", null);
        this.set("report", "pending");
        this.set("progress_at", Date.now());
        tasks.forEach((t, i) => this.sql.exec("INSERT INTO tasks (idx, spec, status) VALUES (?, ?, 'planned')", i, JSON.stringify(t)));
      });
      await this.topUp();
    }
    return this.status();
  }

  private message(idx: number, t: ScanTask, spec: JobSpec): ScanMessage {
    return {
      job: spec.id, index: idx, checkpoint: spec.checkpoint, model: t.model, layer: t.layer, head: t.head, circuit: t.circuit,
      variant: t.variant, offset: t.offset, vectors: spec.options.vectors ?? "f32", arch: spec.arch, overrides: spec.overrides,
    };
  }

  /** Sends planned tasks until SCAN_WINDOW are in flight (not yet done or failed). */
  private async topUp(): Promise<void> {
    const spec = this.spec;
    if (!spec) return;
    const window = Math.max(1, Number(this.env.SCAN_WINDOW ?? 200) || 200);
    while (this.state === "running") {
      const room = window - this.count("status = 'enqueued'");
      if (room <= 0) return;
      const rows = this.sql
        .exec<{ idx: number; spec: string }>("SELECT idx, spec FROM tasks WHERE status = 'planned' ORDER BY idx LIMIT ?", Math.min(SEND_BATCH, room))
        .toArray();
      if (rows.length === 0) return;
      // marked before the send: a call that runs while this one awaits must not send them again
      const ids = rows.map((r) => r.idx);
      const mark = (status: Status) => {
        // SQLite in a Durable Object binds at most 100 parameters per statement
        for (let i = 0; i < ids.length; i += SQL_PARAMS) {
          const chunk = ids.slice(i, i + SQL_PARAMS);
          this.sql.exec(`UPDATE tasks SET status = ? WHERE idx IN (${chunk.map(() => "?").join(",")})`, status, ...chunk);
        }
      };
      mark("enqueued");
      try {
        await this.env.SCAN_QUEUE.sendBatch(rows.map((r) => ({ body: this.message(r.idx, JSON.parse(r.spec) as ScanTask, spec), contentType: "json" })));
      } catch (e) {
        mark("planned");
        console.error(`scan job ${spec.id}: sendBatch failed (${(e as Error).message}); retrying in ${RETRY_MS} ms`);
        await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
        return;
      }
    }
  }

  /**
   * The indices of a consumer's batch that should run: those still in flight in a running job. A
   * cancelled job runs nothing more; a head already done or failed (a redelivery) is not run again.
   */
  async claim(indices: number[]): Promise<number[]> {
    if (this.state !== "running") return [];
    return indices.filter((i) => {
      const r = this.sql.exec<{ status: Status }>("SELECT status FROM tasks WHERE idx = ?", i).toArray();
      return r.length === 1 && (r[0].status === "enqueued" || r[0].status === "planned");
    });
  }

  /** A head's result is stored. Returns false when it had already landed (a redelivery). */
  async land(idx: number, l: Landing): Promise<boolean> {
    const r = this.sql.exec<{ status: Status }>("SELECT status FROM tasks WHERE idx = ?", idx).toArray();
    if (r.length !== 1 || r[0].status === "done" || r[0].status === "failed") return false;
    this.sql.exec("UPDATE tasks SET status = 'done', computed = ?, entry = ?, kernel = ? WHERE idx = ?", l.computed ? 1 : 0, JSON.stringify(l.entry), JSON.stringify(l.kernel), idx);
    await this.advance();
    return true;
  }

  /** A head failed for good (a 4xx problem, or dead-lettered). */
  async fail(idx: number, f: TaskFailure): Promise<boolean> {
    const r = this.sql.exec<{ status: Status }>("SELECT status FROM tasks WHERE idx = ?", idx).toArray();
    if (r.length !== 1 || r[0].status === "done" || r[0].status === "failed") return false;
    this.sql.exec("UPDATE tasks SET status = 'failed', error = ? WHERE idx = ?", JSON.stringify(f), idx);
    await this.advance();
    return true;
  }

  /** A consumer will retry a head (transient failure); its last error is kept for the dead-letter report. */
  async retrying(idx: number, f: TaskFailure): Promise<void> {
    this.sql.exec("UPDATE tasks SET attempts = attempts + 1, error = ? WHERE idx = ? AND status NOT IN ('done', 'failed')", JSON.stringify(f), idx);
    this.bump("retries");
  }

  /** The dead-letter queue's consumer: the head ran out of retries. */
  async deadLettered(idx: number): Promise<void> {
    const r = this.sql.exec<{ error: string | null; attempts: number }>("SELECT error, attempts FROM tasks WHERE idx = ?", idx).toArray();
    const last = r.length && r[0].error ? (JSON.parse(r[0].error) as TaskFailure) : undefined;
    const attempts = r.length ? r[0].attempts : 0;
    const failed = await this.fail(idx, {
      type: "dead-lettered",
      ...(last?.status ? { status: last.status } : {}),
      detail: `dead-lettered after ${attempts} attempt(s)${last ? `; last error ${last.type}: ${last.detail}` : ""}`,
    });
    if (failed) this.bump("dead_lettered");
  }

  async cancel(): Promise<ScanJobStatus | undefined> {
    if (this.state === "running") {
      this.set("state", "cancelled");
      this.set("finished", new Date().toISOString());
      this.set("report", "none");
    }
    return this.status();
  }

  private async advance(): Promise<void> {
    this.set("progress_at", Date.now());
    if (this.state !== "running") return;
    if (this.count("status IN ('planned', 'enqueued')") > 0) return this.topUp();
    this.set("state", "finished");
    this.set("finished", new Date().toISOString());
    await this.finalize();
  }

  /** Writes report.json and the model summaries to R2; on a storage failure, the alarm tries again. */
  private async finalize(): Promise<void> {
    const spec = this.spec!;
    try {
      const rows = this.sql.exec<{ idx: number; spec: string; status: Status; entry: string | null; kernel: string | null; error: string | null }>(
        "SELECT idx, spec, status, entry, kernel, error FROM tasks ORDER BY idx",
      ).toArray();
      const entries: ReportEntry[] = [];
      const failures: ReportFailure[] = [];
      const kernels = new Map<string, { name: string; simd: boolean }>();
      const models = new Set<string>();
      for (const r of rows) {
        const t = JSON.parse(r.spec) as ScanTask;
        if (r.status === "done" && r.entry && r.kernel) {
          entries.push(JSON.parse(r.entry) as ReportEntry);
          kernels.set(r.kernel, JSON.parse(r.kernel));
          models.add(t.model);
        } else {
          const f = (r.error ? JSON.parse(r.error) : { type: "unknown", detail: "no outcome recorded" }) as TaskFailure;
          failures.push({ layer: t.layer, head: t.head, circuit: t.circuit, variant: t.variant, rotary_offset: t.offset, type: f.type, ...(f.status ? { status: f.status } : {}), detail: f.detail });
        }
      }
      const report = assembleReport({
        model: spec.model,
        checkpoint: { files: spec.files, dtypes: spec.dtypes },
        facts: spec.facts,
        kvHeadOf: spec.kvHeadOf,
        scan: { ...spec.options, endpoint: "server-side" },
        kernels: [...kernels.values()],
        entries,
        failures,
      });
      const out = new ScanStore(this.env.RESULTS);
      const results = new ResultStore(this.env);
      for (const m of [...models].sort()) await out.putSummary(spec.id, m, JSON.stringify(await summarizeModel(results, m)));
      await out.putReport(spec.id, JSON.stringify(report, null, 1) + "\n");
      this.set("report", "written");
    } catch (e) {
      console.error(`scan job ${spec.id}: writing the report failed (${(e as Error).message}); retrying in ${RETRY_MS} ms`);
      await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
    }
  }

  /** Recovers from a failed send (running) or a failed report write (finished). */
  override async alarm(): Promise<void> {
    if (this.state === "running") await this.topUp();
    else if (this.state === "finished" && this.get("report") === "pending") await this.finalize();
  }

  /**
   * Messages can be lost where the queue is not durable (the local default keeps it in the worker's
   * memory, so a job outlives the command that ran it). When nothing has landed for
   * SCAN_STALL_SECONDS, the heads in flight are sent again; a copy that was not lost after all finds
   * its head landed (claim) or stored (same input), so nothing is counted twice.
   */
  private async recoverIfStalled(): Promise<void> {
    if (this.state !== "running") return;
    const stallMs = 1000 * (Number(this.env.SCAN_STALL_SECONDS ?? 900) || 900);
    if (Date.now() - (this.get<number>("progress_at") ?? 0) < stallMs) return;
    const n = this.count("status = 'enqueued'");
    this.sql.exec("UPDATE tasks SET status = 'planned' WHERE status = 'enqueued'");
    this.set("progress_at", Date.now());
    this.bump("resent", n);
    await this.topUp();
  }

  async status(): Promise<ScanJobStatus | undefined> {
    const spec = this.spec;
    if (!spec) return undefined;
    await this.recoverIfStalled();
    const failedRows = this.sql
      .exec<{ idx: number; spec: string; error: string | null }>("SELECT idx, spec, error FROM tasks WHERE status = 'failed' ORDER BY idx LIMIT ?", MAX_LISTED_FAILURES)
      .toArray();
    const done = this.count("status = 'done'");
    const computed = this.count("status = 'done' AND computed = 1");
    return {
      schema: "headscope.scan-job/v1",
      id: spec.id,
      state: this.state!,
      checkpoint: spec.checkpoint,
      model: spec.model,
      planned: this.count("1 = 1"),
      enqueued: this.count("status != 'planned'"),
      done,
      computed,
      stored: done - computed,
      failed: this.count("status = 'failed'"),
      retries: this.get<number>("retries") ?? 0,
      dead_lettered: this.get<number>("dead_lettered") ?? 0,
      resent: this.get<number>("resent") ?? 0,
      head_deadline_ms: headDeadlineMs(spec.facts, true, deadlineScale(this.env)),
      started: this.get<string>("started")!,
      finished: this.get<string | null>("finished") ?? null,
      report: this.get<ScanJobStatus["report"]>("report") ?? "pending",
      failures: failedRows.map((r) => {
        const f = (r.error ? JSON.parse(r.error) : { type: "unknown", detail: "" }) as TaskFailure;
        return { index: r.idx, label: taskLabel(JSON.parse(r.spec) as ScanTask), type: f.type, ...(f.status ? { status: f.status } : {}), detail: f.detail };
      }),
      links: { self: `/v1/scans/${spec.id}`, report: `/v1/scans/${spec.id}/report` },
    };
  }
}
