/**
 * `npm run bench:forward`: the forward pass of a GPT-2-small-sized model (12 layers, d_model 768,
 * 12 heads, MLP 3072, vocabulary 50,257, random F32 weights written to a temporary checkpoint) on 128
 * prompts × 20 tokens, every layer's attention input captured, against numpy float32 with one BLAS
 * thread doing the same in the same run (bench/forward_numpy.py), cross-checked element by element.
 * headscope on every thread and numpy run alternately --repeat times (default 3), so both meet the
 * same phases of a shared host, and their medians are compared. Reports wall and CPU times with the
 * load average after each run (the machine may be shared: CPU seconds say what the work costs
 * whatever the load), the ratio per core (headscope wall × threads ÷ numpy one-thread wall; the goal
 * is ≤ 2) of the medians and run by run, the CPU-time ratio, the one-thread ratio and the speed-up of
 * the threads, and peak resident memory (process-wide, worker threads included). As a control, each
 * round also runs one numpy copy per thread at once: its wall time is numpy's time per core when every
 * core is busy, and says how much of the cores' speed-up the host itself gives.
 * Flags: --threads N (default every core), --prompts B, --tokens T, --repeat N; --scan also runs
 * `scan CHECKPOINT --prompts ioi:B` on the same model end to end (local worker, fresh state, every
 * head's QK and OV spectra and SAD) and reports its wall time, the forward pass's share and the peak
 * RSS of the CLI and of workerd from run.json (needs `node scripts/build-cli.mjs`, which the npm
 * script runs).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { computeAttentionInputs } from "../src/model/forward";
import { PROJECT_ROOT } from "../test/support/paths";
import { guardedCommand } from "../scripts/runtime/guard.mjs";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:forward [-- --threads N] [--prompts B] [--tokens T] [--repeat N] [--scan]

The forward pass of a GPT-2-small-sized random model against numpy float32 (one BLAS thread),
cross-checked; prints the ratio per core and peak memory.

  --threads N   worker threads (default: every core)
  --prompts B   prompts (default 128)
  --tokens T    tokens per prompt (default 20)
  --repeat N    alternating runs of headscope (every thread) and numpy, medians compared (default 3)
  --scan        also run scan --prompts ioi:B on the same model end to end`, { flags: { "--threads": true, "--prompts": true, "--tokens": true, "--repeat": true, "--scan": false }, positionals: 0 });

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const THREADS = arg("--threads", availableParallelism());
const B = arg("--prompts", 128);
const T = arg("--tokens", 20);
const SCAN = process.argv.includes("--scan");
const REPEAT = arg("--repeat", 3);
const L = 12, D = 768, FF = 3072, V = 50257, P = 1024;

/** A GPT-2-layout checkpoint with uniform random weights of std 0.02 (γ around 1), written tensor by tensor. */
function writeRandomGpt2(path: string): void {
  const shapes: Array<[string, number[]]> = [["wte.weight", [V, D]], ["wpe.weight", [P, D]]];
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    shapes.push([p + "ln_1.weight", [D]], [p + "ln_1.bias", [D]], [p + "attn.c_attn.weight", [D, 3 * D]], [p + "attn.c_attn.bias", [3 * D]],
      [p + "attn.c_proj.weight", [D, D]], [p + "attn.c_proj.bias", [D]], [p + "ln_2.weight", [D]], [p + "ln_2.bias", [D]],
      [p + "mlp.c_fc.weight", [D, FF]], [p + "mlp.c_fc.bias", [FF]], [p + "mlp.c_proj.weight", [FF, D]], [p + "mlp.c_proj.bias", [D]]);
  }
  shapes.push(["ln_f.weight", [D]], ["ln_f.bias", [D]]);
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: "F32", shape, data_offsets: [off, off + 4 * n] };
    off += 4 * n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(path, "w");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, len);
  writeSync(fd, json);
  let s = 0x9e3779b9;
  const half = 0.02 * Math.sqrt(3);
  // in chunks, so writing the checkpoint does not raise the peak memory measured afterwards
  const chunk = new Float32Array(1 << 20);
  for (const [name, shape] of shapes) {
    const gain = name.endsWith("ln_1.weight") || name.endsWith("ln_2.weight") || name === "ln_f.weight";
    for (let left = shape.reduce((x, y) => x * y, 1); left > 0; left -= chunk.length) {
      const a = chunk.subarray(0, Math.min(left, chunk.length));
      for (let i = 0; i < a.length; i++) {
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
        a[i] = (gain ? 1 : 0) + half * (2 * ((s >>> 0) / 4294967296) - 1);
      }
      writeSync(fd, new Uint8Array(a.buffer, 0, a.length * 4));
    }
  }
  // on disk before anything is timed: the kernel's write-back of 475 MB of dirty pages would
  // otherwise run on the machine's cores during the first (multi-threaded) measurement
  fsyncSync(fd);
  closeSync(fd);
  writeFileSync(join(path, "..", "config.json"), JSON.stringify({ model_type: "gpt2", n_embd: D, n_head: 12, n_layer: L, n_positions: P, vocab_size: V }));
}

const tmp = mkdtempSync(join(tmpdir(), "headscope-forward-bench-"));
try {
  const ckpt = join(tmp, "model.safetensors");
  writeRandomGpt2(ckpt);
  let s = 12345;
  const prompts = Array.from({ length: B }, () => Array.from({ length: T }, () => ((s = (s * 1103515245 + 12345) >>> 0) % V)));
  writeFileSync(join(tmp, "prompts.json"), JSON.stringify(prompts));
  const load = () => loadavg().map((x) => x.toFixed(1)).join(" ");
  console.log(`forward pass, GPT-2-small-sized random model (${L} layers, d_model ${D}), ${B} prompts × ${T} tokens; ${availableParallelism()} cores; load average ${load()}`);

  // CPU seconds of the whole process (every thread): on a shared machine they say what the work
  // costs whatever the load, wall time says what a user waits
  const time = async (threads: number) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await computeAttentionInputs(ckpt, prompts, { threads });
    const c = process.cpuUsage(c0);
    // only the last layer is kept (for the cross-check), so earlier runs' results do not pile up
    return { seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, load: load(), kernel: r.kernel, last: r.activations[L - 1] };
  };
  type Numpy = { numpy: string; seconds: number; cpu_seconds: number; read_seconds: number };
  const numpyEnv = { ...process.env, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
  const numpyArgs = (out: string) => [join(PROJECT_ROOT, "bench/forward_numpy.py"), ckpt, join(tmp, "prompts.json"), join(tmp, out)];
  const numpy = (): Numpy | undefined => {
    try {
      return JSON.parse(execFileSync("python3", numpyArgs("numpy-last.f32"), { encoding: "utf8", env: numpyEnv }));
    } catch (e) {
      console.error(`numpy baseline unavailable: ${(e as Error).message.split("\n")[0]}`);
      return undefined;
    }
  };
  // the control: as many one-thread numpy copies as headscope has threads, at once, each doing the
  // whole job. Their wall time is numpy's time per core when every core is busy, so it shows what the
  // host itself gives when all of its cores work (two vCPUs may share a physical core's FP units)
  const numpyEveryCore = async (): Promise<number | undefined> => {
    if (THREADS < 2) return undefined;
    try {
      const runs = await Promise.all(Array.from({ length: THREADS }, (_, i) =>
        promisify(execFile)("python3", numpyArgs(`numpy-core-${i}.f32`), { encoding: "utf8", env: numpyEnv })));
      return Math.max(...runs.map((r) => (JSON.parse(r.stdout) as Numpy).seconds));
    } catch (e) {
      console.error(`numpy on every core unavailable: ${(e as Error).message.split("\n")[0]}`);
      return undefined;
    }
  };
  // headscope on every thread and numpy alternate REPEAT times, so both see the same phases of a
  // shared host; the ratio is of the medians, and every pair's ratio is printed too
  const runs: Array<{ ours: Awaited<ReturnType<typeof time>>; py?: Numpy; pyLoad: string; pyEvery?: number }> = [];
  let rss = 0;
  for (let i = 0; i < REPEAT; i++) {
    const ours = await time(THREADS);
    if (i === 0) rss = process.resourceUsage().maxRSS * 1024; // peak so far: the first multi-threaded run
    const py = numpy();
    const pyLoad = load();
    runs.push({ ours, py, pyLoad, pyEvery: await numpyEveryCore() });
  }
  const one = THREADS > 1 ? await time(1) : runs[0].ours;
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
  const line = (what: string, t: Awaited<ReturnType<typeof time>>) => console.log(`  ${what}: ${t.seconds.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU; load average after ${t.load}`);
  const many = runs.map((r) => r.ours).sort((x, y) => x.seconds - y.seconds)[Math.floor((REPEAT - 1) / 2)];
  runs.forEach((r, i) => line(`headscope (${r.ours.kernel.name}, ${r.ours.kernel.threads} threads), run ${i + 1}`, r.ours));
  if (THREADS > 1) line("headscope (1 thread)", one);
  console.log(`  peak RSS ${(rss / 2 ** 20).toFixed(0)} MB (weights on disk ${(statSync(ckpt).size / 2 ** 20).toFixed(0)} MB, one block ${((4 * (D * 3 * D + D * D + 2 * D * FF)) / 2 ** 20).toFixed(0)} MB; activations returned ${((L * B * T * D * 4) / 2 ** 20).toFixed(0)} MB)`);

  const pys = runs.flatMap((r) => (r.py ? [r.py] : []));
  if (pys.length === runs.length) {
    const ref = new Float32Array(readFileSync(join(tmp, "numpy-last.f32")).buffer.slice(0));
    const ours = runs[runs.length - 1].ours.last;
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - ours[i]));
    const threads = many.kernel.threads;
    runs.forEach((r, i) => console.log(`  numpy ${r.py!.numpy} float32, OPENBLAS_NUM_THREADS=1, run ${i + 1}: ${r.py!.seconds.toFixed(2)} s wall, ${r.py!.cpu_seconds.toFixed(2)} s CPU (of which ${r.py!.read_seconds.toFixed(2)} s reading weights); load average after ${r.pyLoad}`));
    const pyWall = median(pys.map((p) => p.seconds));
    const pyCpu = median(pys.map((p) => p.cpu_seconds));
    const pairs = runs.map((r) => ((r.ours.seconds * threads) / r.py!.seconds).toFixed(2)).join(", ");
    console.log(`  ratio per core (headscope wall × ${threads} ÷ numpy one-thread wall, medians of ${REPEAT} alternating runs): ${((many.seconds * threads) / pyWall).toFixed(2)} (goal ≤ 2); run by run: ${pairs}`);
    const every = runs.flatMap((r) => (r.pyEvery ? [r.pyEvery] : []));
    if (every.length === runs.length && THREADS > 1) {
      const everyWall = median(every);
      console.log(`  numpy on every core (${THREADS} one-thread copies at once, each the whole job; the slowest copy's wall): ${every.map((s) => s.toFixed(2)).join(", ")} s; ` +
        `the host's speed-up for numpy on ${THREADS} cores: ${((THREADS * pyWall) / everyWall).toFixed(2)}`);
      console.log(`  ratio per core with numpy on every core too (headscope wall × ${threads} ÷ that wall, medians): ${((many.seconds * threads) / everyWall).toFixed(2)}`);
    }
    console.log(`  ratio of CPU time (headscope ${threads} threads ÷ numpy): ${(many.cpu / pyCpu).toFixed(2)}; one thread: ${(one.cpu / pyCpu).toFixed(2)}`);
    console.log(`  ratio one thread against one thread (wall): ${(one.seconds / pyWall).toFixed(2)}; speed-up of ${threads} threads over 1: ${(one.seconds / many.seconds).toFixed(2)}`);
    console.log(`  last layer's attention input, headscope vs numpy float32: max |difference| ${worst.toExponential(2)}`);
  }
  if (SCAN) {
    // the whole command a user runs: tokenizer (GPT-2's ranks: no tokenizer.json here), forward pass,
    // activation uploads, 144 heads × QK and OV spectra and SAD with its null, report
    const out = join(tmp, "scan");
    const before = load();
    const t0 = performance.now();
    const [cmd, args] = guardedCommand(PROJECT_ROOT, process.execPath, [
      join(PROJECT_ROOT, "build/cli/headscope.mjs"), "scan", ckpt, "--prompts", `ioi:${B}`, "--out", out, "--state", join(tmp, "state"), "--progress", "quiet",
    ]);
    const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const wall = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`scan exited ${r.status}:\n${r.stderr}`);
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    const sads = report.entries.filter((e: { sad?: unknown }) => e.sad).length;
    console.log(`scan ${ckpt.split("/").pop()} --prompts ioi:${B} (load average before ${before}, after ${load()}):`);
    console.log(`  ${wall.toFixed(1)} s end to end (${run.computed} results computed, ${sads} heads with SAD); forward pass ${run.forward.seconds.toFixed(1)} s wall, ${run.forward.cpu_seconds.toFixed(1)} s CPU on ${run.forward.threads} threads (${run.forward.prompts} prompts, ${run.forward.tokens} tokens)`);
    console.log(`  CPU: CLI ${run.profile.cpu_seconds.cli.toFixed(1)} s, workerd ${run.profile.cpu_seconds.worker?.toFixed(1) ?? "n/a"} s; peak RSS: CLI ${(run.peak_rss_bytes.cli / 2 ** 20).toFixed(0)} MB, workerd ${run.peak_rss_bytes.worker ? (run.peak_rss_bytes.worker / 2 ** 20).toFixed(0) + " MB" : "n/a"}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
