/**
 * @module services/scan-plan
 * What a server-side scan job will do, decided before anything is created: the checkpoint (from R2,
 * headers validated), its architecture (the CLI's adapters, detected or forced), the scan options
 * checked against it (wire/scan-options.ts, as the CLI checks them) and the task list (cli/plan.ts).
 * Every refusal is a problem (400/404), so a bad job creates nothing. Also opens checkpoints for the
 * queue consumer, cached per isolate (checkpoints are immutable, so a cached header never goes stale).
 */
import { InvalidRequest, ResultNotFound } from "../errors";
import { detectArchitecture, type Architecture } from "../cli/architectures";
import { CheckpointError } from "../cli/checkpoint-error";
import { planTasks, type ScanTask } from "../cli/plan";
import type { CheckpointStore } from "../storage/checkpoint-store";
import type { CheckpointManifest } from "../wire/checkpoint";
import { resolveScanOptions, ScanOptionError, type ResolvedScanOptions } from "../wire/scan-options";
import type { ScanJobRequest, ScanMessage } from "../wire/scan-job";
import { R2Checkpoint } from "./r2-checkpoint";

export interface OpenedCheckpoint {
  ck: R2Checkpoint;
  arch: Architecture;
  archName: ScanMessage["arch"];
}

type Overrides = ScanMessage["overrides"];

/** Converts the adapters' and options' own errors into problems naming the cause. */
async function asProblem<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    if (e instanceof CheckpointError) throw new InvalidRequest(`checkpoint: ${e.message}`, { reason: "checkpoint" });
    if (e instanceof ScanOptionError) throw new InvalidRequest(e.message, { parameter: e.option });
    throw e;
  }
}

export async function openCheckpoint(store: CheckpointStore, manifest: CheckpointManifest, forced: string | undefined, overrides: Overrides): Promise<OpenedCheckpoint> {
  return asProblem(async () => {
    const ck = await R2Checkpoint.open(store, manifest);
    const arch = detectArchitecture(ck, forced, overrides);
    return { ck, arch, archName: arch.facts.architecture as ScanMessage["arch"] };
  });
}

const cache = new Map<string, Promise<OpenedCheckpoint>>();
const CACHE_SIZE = 4;

/** The consumer's view of a job's checkpoint, opened once per isolate. */
export function cachedCheckpoint(store: CheckpointStore, m: Pick<ScanMessage, "checkpoint" | "arch" | "overrides">): Promise<OpenedCheckpoint> {
  const key = `${m.checkpoint}|${m.arch}|${JSON.stringify(m.overrides)}`;
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      const manifest = await store.getManifest(m.checkpoint);
      if (!manifest) throw new ResultNotFound(`no checkpoint ${m.checkpoint}`);
      return openCheckpoint(store, manifest, m.arch, m.overrides);
    })();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
    while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return p;
}

export interface ScanPlan {
  manifest: CheckpointManifest;
  opened: OpenedCheckpoint;
  model: string;
  options: ResolvedScanOptions;
  tasks: ScanTask[];
  overrides: Overrides;
}

/** Plans a job, or refuses it with a problem. Reads one head of every scanned layer, as the CLI does. */
export async function planScan(store: CheckpointStore, req: ScanJobRequest): Promise<ScanPlan> {
  const manifest = await store.getManifest(req.checkpoint);
  if (!manifest) throw new ResultNotFound(`no checkpoint ${req.checkpoint}: upload it first (headscope upload), or list them with GET /v1/checkpoints`);
  const overrides: Overrides = {
    ...(req.n_heads !== undefined ? { nHeads: req.n_heads } : {}),
    ...(req.n_kv_heads !== undefined ? { nKvHeads: req.n_kv_heads } : {}),
    ...(req.rotary_dim !== undefined ? { rotaryDim: req.rotary_dim } : {}),
    ...(req.rotary_base !== undefined ? { rotaryBase: req.rotary_base } : {}),
  };
  const opened = await openCheckpoint(store, manifest, req.arch, overrides);
  const { ck, arch } = opened;
  const model = req.model ?? manifest.name;
  return asProblem(async () => {
    const options = {
      ...resolveScanOptions(
        { circuits: req.circuits, layers: req.layers, heads: req.heads, variants: req.variants, rotaryOffsets: req.rotary_offsets },
        arch.facts,
      ),
      vectors: req.vectors,
    };
    // planTasks probes head 0 for biases inside a try: fetch what it reads first, and keep it while it runs
    await ck.run(() => arch.head(0, 0), true);
    let tasks: ScanTask[];
    try {
      tasks = planTasks(arch, { model, ...options });
    } finally {
      ck.release();
    }
    if (tasks.length === 0) throw new InvalidRequest("nothing to scan: no variant of the chosen ones applies to these circuits", { parameter: "variants" });
    // a head of the first and last layer decodes, so a tensor that cannot be read fails now, not in a
    // consumer (every layer, as the CLI does, would cost ~5 ranged reads per layer of this request's
    // subrequest budget; the adapters have already checked every tensor's shape from the headers)
    const probe = [...new Set([options.layers[0], options.layers[options.layers.length - 1]])];
    for (const l of probe) await ck.run(() => arch.head(l, options.heads[0]));
    return { manifest, opened, model, options, tasks, overrides };
  });
}
