#!/usr/bin/env node
/**
 * `npm run bench:scan`: the full GPT-2 small scan (144 heads × QK and OV, default variants) through
 * the local worker, from command start to report written, on fresh storage (everything computed),
 * then once more on the same storage (everything already stored: the resume path), against numpy in
 * the same run computing the same 288 spectra dense per head (the published way) and factored.
 * Reports wall times, and the peak resident memory of the CLI and of the worker (workerd) process.
 * Expects `node scripts/build-cli.mjs` to have run (the npm script does it).
 */
import { execFileSync, spawn } from "node:child_process";
import { guardedCommand } from "../scripts/runtime/guard.mjs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { handleUsage } from "../scripts/usage.mjs";

handleUsage(`npm run bench:scan [-- CHECKPOINT] [--shape llama-1b|llama-3b|llama-8b|llama-70b] [--layers N] [--vectors f32|f16|none] [--dense-heads N]

The full scan through the local worker, fresh and again (resume), against numpy dense and factored
in the same run.

  CHECKPOINT          default ../shared/models/gpt2-small-attn.safetensors
  --shape S           a synthetic BF16 sharded checkpoint of that shape instead (llama-1b, llama-3b, llama-8b, llama-70b)
  --layers N          layers of the synthetic checkpoint
  --vectors V         passed to the scan (default f32)
  --dense-heads N     time numpy dense on the first N heads only and extrapolate`, { flags: { "--shape": true, "--layers": true, "--vectors": true, "--dense-heads": true }, positionals: 1 });

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
};
/** --dense-heads N times numpy dense on the first N heads only and extrapolates (for a loaded machine); default all */
const denseHeads = Number(flag("--dense-heads") ?? 0);
/** --shape llama-1b|llama-3b|llama-8b|llama-70b: a synthetic BF16 sharded checkpoint of that shape (a few layers; --layers N) */
const shape = flag("--shape");
const shapeLayers = flag("--layers");
/** --vectors f32|f16|none: passed to the scan */
const vectors = flag("--vectors") ?? "f32";
const tmp = mkdtempSync(join(tmpdir(), "headscope-bench-"));
const model = args[0] ?? (shape ? join(tmp, shape) : join(root, "../shared/models/gpt2-small-attn.safetensors"));
const mb = (b) => (b / 2 ** 20).toFixed(0) + " MB";
const load = () => loadavg().map((x) => x.toFixed(1)).join(" ");
// one BLAS thread unless told otherwise: on a shared 2-core machine OpenBLAS's threads thrash
// (measured: factored 29 s with the default threads against 0.7 s with one, dense 199 s against 28 s)
const pyEnv = { ...process.env, OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? "1" };

function scan(out, state) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // guarded: the CLI (and so its workerd) never outlives this benchmark (scripts/runtime/guard.mjs)
    const child = spawn(...guardedCommand(root, process.execPath, [join(root, "build/cli/headscope.mjs"), "scan", model, "--out", out, "--state", state, "--progress", "quiet", "--no-html", "--vectors", vectors]), {
      stdio: ["ignore", "inherit", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) return reject(new Error(`scan exited ${code}:\n${err}`));
      resolve({ wall, run: JSON.parse(readFileSync(join(out, "run.json"), "utf8")), report: JSON.parse(readFileSync(join(out, "report.json"), "utf8")) });
    });
  });
}

/** The profile of a run.json, one line. */
const profileLine = (run) => {
  const p = run.profile;
  const sec = Object.entries(p.seconds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
  const sampled = p.worker_sampled.map((c) => `${c.circuit}: parse ${(c.parse * 1e3).toFixed(1)}, fold ${(c.fold * 1e3).toFixed(1)}, SVD ${(c.svd * 1e3).toFixed(1)}, vectors ${(c.encode_vectors * 1e3).toFixed(1)} ms`).join("; ");
  return `    CLI steps (s, summed over concurrent requests): ${sec}; worker start ${p.worker_start_seconds?.toFixed(2) ?? "n/a"} s\n` +
    `    CPU: CLI ${p.cpu_seconds.cli.toFixed(2)} s, worker ${p.cpu_seconds.worker?.toFixed(2) ?? "n/a"} s` +
    (p.cpu_seconds.worker_processes ? ` on ${p.cpu_seconds.worker_processes.length} workerd processes (${p.cpu_seconds.worker_processes.map((x) => x.toFixed(2)).join(" + ")}, the first owning the storage)` : "") +
    `; worker code per circuit (sampled in the CLI): ${sampled}`;
};

/** Large-model shapes: synthetic checkpoint, scan fresh and again, numpy on the same circuits, in one run. */
async function benchShape() {
  const { writeSyntheticLlama } = await import("./synthetic-checkpoint.mjs");
  let t = performance.now();
  const facts = writeSyntheticLlama(model, shape, shapeLayers ? Number(shapeLayers) : undefined);
  console.log(`${shape}-shaped checkpoint: ${facts.layers} of ${facts.full_layers} layers, d_model ${facts.hidden_size}, ${facts.num_attention_heads} heads (${facts.num_key_value_heads} kv), d_head ${facts.head_dim}, BF16 sharded, ${mb(facts.bytes)} written in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const state = join(tmp, "state");
  // the same command twice: the second is a resume of a stored model (same --out, so its body hashes are known)
  const fresh = await scan(join(tmp, "scan"), state);
  const again = await scan(join(tmp, "scan"), state);
  const stateBytes = Number(execFileSync("du", ["-sb", state], { encoding: "utf8" }).split("\t")[0]);
  t = performance.now();
  let py;
  try {
    py = JSON.parse(execFileSync("python3", [join(root, "bench/scan_numpy_llama.py"), model], { encoding: "utf8", maxBuffer: 1 << 26, env: pyEnv }));
  } catch (e) {
    console.error(`numpy baseline unavailable: ${e.message.split("\n")[0]}`);
  }
  const pyWall = (performance.now() - t) / 1000;
  const n = fresh.report.entries.length;
  console.log(`${n} circuits (qk and ov, folded with RMSNorm γ, U and V kept as ${vectors}); load average ${load()}`);
  console.log(`  headscope scan, fresh storage:   ${fresh.wall.toFixed(2)} s  (${fresh.run.computed} computed)`);
  console.log(profileLine(fresh.run));
  console.log(`  headscope scan, all stored:      ${again.wall.toFixed(2)} s  (${again.run.stored} already stored; ${mb(again.run.profile.bytes.uploaded)} uploaded)`);
  console.log(profileLine(again.run));
  console.log(`  peak RSS: CLI ${mb(fresh.run.peak_rss_bytes.cli)}, worker (workerd) ${fresh.run.peak_rss_bytes.worker ? mb(fresh.run.peak_rss_bytes.worker) : "n/a"}`);
  console.log(`  local state after the scan: ${mb(stateBytes)} (estimated before it: ${mb(fresh.run.estimate.bytes)}); time estimated ${fresh.run.estimate.seconds?.toFixed(1)} s`);
  if (py) {
    let worst = 0;
    fresh.report.entries.forEach((e, i) => (worst = Math.max(worst, Math.abs(e.singular_values[0] - py.sigma1[i]) / py.sigma1[i])));
    console.log(`  numpy ${py.numpy} (OPENBLAS_NUM_THREADS=${py.threads}), same circuits with U and V: ${pyWall.toFixed(2)} s wall ` +
      `(read ${py.read_seconds.toFixed(2)}, fold ${py.fold_seconds.toFixed(2)}, QR+SVD ${py.svd_seconds.toFixed(2)} s)`);
    console.log(`  σ₁ headscope vs numpy: max relative difference ${worst.toExponential(2)}`);
    console.log(`  ratio, fresh scan / numpy: ${(fresh.wall / pyWall).toFixed(2)}×; all-stored re-scan / numpy: ${(again.wall / pyWall).toFixed(2)}×`);
    const cpu = fresh.run.profile.cpu_seconds;
    console.log(`  CPU seconds (robust to other load): headscope CLI ${cpu.cli.toFixed(1)} + worker ${cpu.worker?.toFixed(1)} = ${(cpu.cli + (cpu.worker ?? 0)).toFixed(1)} s, ` +
      `numpy ${py.cpu_seconds.toFixed(1)} s: ${((cpu.cli + (cpu.worker ?? 0)) / py.cpu_seconds).toFixed(2)}×`);
    console.log(`  per circuit: headscope ${(1000 * fresh.wall / n).toFixed(0)} ms, numpy ${(1000 * pyWall / n).toFixed(0)} ms; ` +
      `a full ${facts.full_layers}-layer model has ${(n * facts.full_layers) / facts.layers} circuits`);
  }
}

try {
  if (shape) await benchShape();
  else await benchGpt2();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

async function benchGpt2() {
  const state = join(tmp, "state");
  const fresh = await scan(join(tmp, "scan"), state);
  const again = await scan(join(tmp, "scan"), state);
  const entries = fresh.report.entries;
  console.log(`GPT-2 small scan, ${entries.length} spectra (qk folded_augmented, ov folded); load average ${load()}`);
  console.log(`  headscope scan, fresh storage (all computed):   ${fresh.wall.toFixed(2)} s  (${fresh.run.computed} computed)`);
  console.log(`  headscope scan, same storage (all stored):      ${again.wall.toFixed(2)} s  (${again.run.stored} already stored)`);
  console.log(profileLine(fresh.run));
  console.log(profileLine(again.run));
  console.log(`  peak RSS: CLI ${mb(fresh.run.peak_rss_bytes.cli)}, worker (workerd) ${fresh.run.peak_rss_bytes.worker ? mb(fresh.run.peak_rss_bytes.worker) : "n/a"}`);
  let py;
  try {
    py = JSON.parse(execFileSync("python3", [join(root, "bench/scan_numpy.py"), model, String(denseHeads)], { encoding: "utf8", maxBuffer: 1 << 26, env: pyEnv }));
  } catch (e) {
    console.error(`numpy baseline unavailable: ${e.message.split("\n")[0]}`);
  }
  if (py) {
    // same heads in the same order (layer, head, qk then ov)
    let worst = 0;
    entries.forEach((e, i) => (worst = Math.max(worst, Math.abs(e.singular_values[0] - py.factored.sigma1[i]) / py.factored.sigma1[i])));
    const extrapolated = py.dense.heads < py.heads ? ` (timed on ${py.dense.heads} heads, scaled to ${py.heads})` : "";
    console.log(`  numpy (OPENBLAS_NUM_THREADS=${py.threads})`);
    console.log(`  numpy ${py.numpy} dense SVD of the 768×768 / 769×769 products:   ${py.dense.seconds.toFixed(2)} s${extrapolated}; load average ${load()}`);
    console.log(`  numpy ${py.numpy} factored (QR + core SVD):                     ${py.factored.seconds.toFixed(2)} s  (+${py.read_and_fold_seconds.toFixed(2)} s read and fold)`);
    console.log(`  σ₁ headscope vs numpy factored: max relative difference ${worst.toExponential(2)}`);
    console.log(`  headscope end to end vs numpy dense compute alone: ${(py.dense.seconds / fresh.wall).toFixed(1)}× faster`);
    const numpyScript = py.read_and_fold_seconds + py.factored.seconds;
    console.log(`  ratio to the numpy script (read, fold, factored SVD with U and V: ${numpyScript.toFixed(2)} s): ` +
      `fresh scan ${(fresh.wall / numpyScript).toFixed(2)}×, all-stored re-scan ${(again.wall / numpyScript).toFixed(2)}×`);
  }
}
