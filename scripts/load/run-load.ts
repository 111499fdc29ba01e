/**
 * Load against a running headscope worker with autocannon: a write run (distinct real GPT-2 heads,
 * each a full SVD) and a mixed read/write run (re-posts, which must be idempotent, and reads). Then
 * every result is read back and checked: nothing lost, nothing duplicated, each summary's vectors
 * present and its input hash the one sent.
 */
import { createHash } from "node:crypto";
import autocannon from "autocannon";
import { gpt2Head, headBody } from "../../test/support/gpt2";

export interface LoadOptions {
  url: string;
  token: string;
  /** distinct heads written (each one SVD) */
  writes: number;
  /** requests in the mixed run (half re-posts, half reads) */
  mixed: number;
  connections: number;
  /** model-name prefix, so runs do not collide */
  model?: string;
}

export interface RunStats {
  requests: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  errors: number;
  /** the first few error answers, for diagnosis */
  samples: string[];
}

export interface Job {
  path: string;
  body: Uint8Array;
  sha256: string;
}

/** `count` distinct head writes of real GPT-2 heads (288 per model name, then the next name). */
export function jobs(count: number, model: string): Job[] {
  const bodies = new Map<string, Uint8Array>();
  const out: Job[] = [];
  for (let i = 0; i < count; i++) {
    const idx = i % 288;
    const layer = Math.floor(idx / 24);
    const head = Math.floor((idx % 24) / 2);
    const circuit = idx % 2 === 0 ? "qk" : "ov";
    const key = `${layer}/${head}/${circuit}`;
    let body = bodies.get(key);
    if (!body) {
      body = headBody(gpt2Head(layer, head), circuit);
      bodies.set(key, body);
    }
    const m = `${model}-${Math.floor(i / 288)}`;
    out.push({
      path: `/v1/models/${m}/layers/${layer}/heads/${head}/${circuit}`,
      body,
      sha256: createHash("sha256").update(body).digest("hex"),
    });
  }
  return out;
}

async function run(url: string, connections: number, amount: number, next: () => autocannon.Request): Promise<RunStats> {
  const statuses: Record<string, number> = {};
  const samples: string[] = [];
  const started = performance.now();
  const result = await autocannon({
    url,
    connections,
    amount,
    timeout: 60,
    requests: [
      {
        // keep autocannon's defaults (host header, etc.) and override method, path, headers, body
        setupRequest: (req: autocannon.Request) => ({ ...req, ...next() }),
        onResponse: (status: number, body: string) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status >= 400 && samples.length < 3) samples.push(`${status} ${body.slice(0, 300)}`);
        },
      } as autocannon.Request,
    ],
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: result.requests.total,
    seconds,
    throughput: result.requests.total / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
    errors: result.errors + result.timeouts + result.non2xx,
    samples,
  };
}

export async function runLoad(o: LoadOptions) {
  const model = o.model ?? `load${Date.now().toString(36)}`;
  const all = jobs(o.writes, model);
  const auth = { authorization: `Bearer ${o.token}`, "content-type": "application/octet-stream" };

  let w = 0;
  const write = await run(o.url, o.connections, all.length, () => {
    const j = all[w++ % all.length];
    return { method: "POST", path: j.path, headers: auth, body: Buffer.from(j.body) } as autocannon.Request;
  });

  let r = 0;
  const mixed = await run(o.url, o.connections, o.mixed, () => {
    const i = r++;
    const j = all[(i * 7919) % all.length];
    return i % 2 === 0
      ? ({ method: "POST", path: j.path, headers: auth, body: Buffer.from(j.body) } as autocannon.Request)
      : ({ method: "GET", path: `${j.path}?variant=${j.path.endsWith("qk") ? "folded_augmented" : "folded"}`, headers: {} } as autocannon.Request);
  });

  // read everything back
  let lost = 0;
  let wrongInput = 0;
  let missingVectors = 0;
  const vectorKeys = new Set<string>();
  for (const j of all) {
    const res = await fetch(`${o.url}${j.path}`);
    if (res.status !== 200) {
      lost++;
      continue;
    }
    const s = (await res.json()) as { input: { sha256: string }; vectors: { key: string }; links: { vectors: string } };
    if (s.input.sha256 !== j.sha256) wrongInput++;
    vectorKeys.add(s.vectors.key);
    const v = await fetch(`${o.url}${s.links.vectors}`, { method: "GET" });
    if (v.status !== 200) missingVectors++;
    await v.arrayBuffer();
  }
  return {
    model,
    write,
    mixed,
    check: { results: all.length, lost, wrongInput, missingVectors, distinctVectorKeys: vectorKeys.size },
  };
}
