/**
 * What a scan stores and sends (issue 12), through the real local worker (workerd, local R2 and KV)
 * on real GPT-2 small weights:
 * - a re-scan of stored heads uploads nothing (the CLI hashes each body and reads the stored summary)
 *   and writes the same report.json byte for byte; with the body hashes of the previous run
 *   (DIR/hashes.json, valid for the same files) it reads no weights; a file changed since is read again;
 * - `--vectors f16` stores U and V as F16 (same spectra; vectors within half precision of the F32
 *   ones), `--vectors none` stores spectra only (no vectors link, the vectors GET is a 404) and the
 *   report records which; asking for another vectors format over a stored result is a conflict that
 *   changes nothing;
 * - a scan whose storage estimate exceeds the free disk of its state directory is refused before
 *   anything is stored (a 4 MiB tmpfs; skipped where mounting one is not permitted).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { startLocalWorker } from "../../src/cli/local-worker";
import { decodeFloat, parseSafetensors } from "../../src/wire/safetensors";
import { ROOT, runCli } from "../support/cli";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";
import { GPT2_PATH } from "../support/gpt2";
import { gaussian, rng } from "../support/matrices";

const tmp = mkdtempSync(join(tmpdir(), "headscope-vectors-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const json = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
const scan = (out: string, state: string, ...more: string[]) =>
  runCli(["scan", GPT2_PATH, "--out", join(tmp, out), "--state", join(tmp, state), "--model-name", "gpt2-small", "--layers", "0",
    "--progress", "quiet", "--no-html", ...more]);

describe("stored-result check and vectors policy", () => {
  test("a re-scan uploads nothing and writes the same report", async () => {
    const first = await scan("a1", "s-f32");
    expect(first.code, first.stderr).toBe(0);
    const run1 = json(join(tmp, "a1"), "run.json");
    expect(run1).toMatchObject({ computed: 24, stored: 0, vectors: "f32" });
    expect(run1.profile.bytes.uploaded).toBeGreaterThan(24 * 390_000);
    expect(run1.profile.steps).toMatchObject({ read: 24, encode: 24, hash: 24, http: 24 });
    expect(first.stderr).toMatch(/estimate: 24 new result\(s\) of 24, about 9\.\d MiB of storage \(vectors f32\), roughly .+ of worker time/);
    // the worker's code, timed on the CLI's sampling thread while the local worker started
    expect(run1.profile.worker_sampled.map((c: { circuit: string; d_model: number }) => [c.circuit, c.d_model])).toEqual([["qk", 768], ["ov", 768]]);

    const report1 = readFileSync(join(tmp, "a1/report.json"), "utf8");
    const second = await scan("a1", "s-f32");
    expect(second.code, second.stderr).toBe(0);
    const run2 = json(join(tmp, "a1"), "run.json");
    expect(run2).toMatchObject({ computed: 0, stored: 24 });
    expect(run2.profile.bytes.uploaded).toBe(0);
    expect(run2.profile.steps.http).toBe(0);
    // the body hashes of the first run (DIR/hashes.json) are valid for these files: no weights read
    expect(run2.profile.hash_cache_hits).toBe(24);
    expect(run2.profile.steps.read).toBe(0);
    expect(second.stderr).toMatch(/estimate: 0 new result\(s\) of 24/);
    expect(readFileSync(join(tmp, "a1/report.json"), "utf8")).toBe(report1);
    // without the cache (another output directory) the bodies are read and hashed, and still not uploaded
    const third = await scan("a3", "s-f32");
    const run3 = json(join(tmp, "a3"), "run.json");
    expect(readFileSync(join(tmp, "a3/report.json"), "utf8")).toBe(report1);
    expect(run3).toMatchObject({ computed: 0, stored: 24 });
    expect(run3.profile).toMatchObject({ hash_cache_hits: 0, steps: { read: 24, hash: 24, http: 0 } });
    expect(run3.profile.bytes.uploaded).toBe(0);
  }, 180_000);

  test("--vectors f16 and none: same spectra, the vectors as asked, recorded in the report", async () => {
    for (const [v, state] of [["f16", "s-f16"], ["none", "s-none"]] as const) {
      const r = await scan(`b-${v}`, state, "--vectors", v);
      expect(r.code, r.stderr).toBe(0);
    }
    const f32 = json(join(tmp, "a1"), "report.json");
    const f16 = json(join(tmp, "b-f16"), "report.json");
    const none = json(join(tmp, "b-none"), "report.json");
    expect([f32.scan.vectors, f16.scan.vectors, none.scan.vectors]).toEqual(["f32", "f16", "none"]);
    for (const r of [f16, none]) {
      expect(r.entries.map((e: any) => e.singular_values)).toEqual(f32.entries.map((e: any) => e.singular_values));
    }
    expect(none.entries.every((e: any) => e.vectors === null)).toBe(true);

    // the stored files, through the worker's own GETs
    const fetchVectors = async (state: string, circuit: string, variant: string) => {
      const w = await startLocalWorker({ root: ROOT, stateDir: join(tmp, state) });
      try {
        const base = `${w.url}/v1/models/gpt2-small/layers/0/heads/3/${circuit}`;
        const summary = (await (await fetch(`${base}?variant=${variant}`)).json()) as any;
        const res = await fetch(`${base}/vectors?variant=${variant}`);
        return { summary, status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
      } finally {
        await w.stop();
      }
    };
    const a = await fetchVectors("s-f32", "qk", "folded_augmented");
    const b = await fetchVectors("s-f16", "qk", "folded_augmented");
    const c = await fetchVectors("s-none", "qk", "folded_augmented");
    expect(a.summary.vectors.dtype).toEqual({ U: "F32", S: "F64", V: "F32" });
    expect(b.summary.vectors.dtype).toEqual({ U: "F16", S: "F64", V: "F16" });
    expect(b.summary.vectors.key).toMatch(/\.f16\.safetensors$/);
    expect(c.summary.vectors).toBeNull();
    expect(c.summary.links.vectors).toBeUndefined();
    expect(c.status).toBe(404);
    const ta = parseSafetensors(a.body).tensors;
    const tb = parseSafetensors(b.body).tensors;
    expect(tb.get("U")!.dtype).toBe("F16");
    expect(b.body.byteLength).toBeLessThan(0.51 * a.body.byteLength + 4096);
    for (const name of ["U", "V"]) {
      const x = decodeFloat(ta.get(name)!);
      const y = decodeFloat(tb.get(name)!);
      let worst = 0;
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(Math.abs(x[i]), 2 ** -14));
      expect(worst, name).toBeLessThanOrEqual(2 ** -11);
    }
    expect(Array.from(decodeFloat(tb.get("S")!))).toEqual(Array.from(decodeFloat(ta.get("S")!)));
  }, 240_000);

  test("another vectors format over stored results is a conflict that changes nothing", async () => {
    const r = await scan("c", "s-f32", "--vectors", "none");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/by type: conflict ×24/);
    expect(r.stderr).toMatch(/stored with vectors=f32, not none/);
    const again = await scan("c2", "s-f32");
    expect(again.code, again.stderr).toBe(0);
    expect(json(join(tmp, "c2"), "run.json")).toMatchObject({ computed: 0, stored: 24 });
    expect(readFileSync(join(tmp, "c2/report.json"), "utf8")).toBe(readFileSync(join(tmp, "a1/report.json"), "utf8"));
  }, 180_000);
});

test("a checkpoint changed since the last run is read again, not taken for the stored one", async () => {
  const r = rng(5);
  const t = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => gaussian(r)) });
  const d = 8;
  const tensors: Record<string, RawTensor> = {
    "h.0.ln_1.weight": t(d), "h.0.ln_1.bias": t(d), "h.0.attn.c_attn.weight": t(d, 3 * d), "h.0.attn.c_attn.bias": t(3 * d), "h.0.attn.c_proj.weight": t(d, d),
  };
  const dir = join(tmp, "tiny");
  const args = () => ["scan", join(dir, "model.safetensors"), "--out", join(tmp, "e"), "--state", join(tmp, "s-tiny"), "--model-name", "tiny", "--progress", "quiet", "--no-html"];
  writeCheckpoint(dir, tensors, { dtype: "F32", config: { model_type: "gpt2", n_head: 2 } });
  const a = await runCli(args());
  expect(a.code, a.stderr).toBe(0);
  expect(json(join(tmp, "e"), "run.json")).toMatchObject({ computed: 4 });
  // new weights in the same file, same size: every body differs, so every stored result is another input
  tensors["h.0.attn.c_attn.weight"] = t(d, 3 * d);
  tensors["h.0.attn.c_proj.weight"] = t(d, d);
  await new Promise((res) => setTimeout(res, 20));
  writeCheckpoint(dir, tensors, { dtype: "F32", config: { model_type: "gpt2", n_head: 2 } });
  const b = await runCli(args());
  expect(b.code).toBe(1);
  expect(b.stderr).toMatch(/by type: conflict ×4/);
  expect(json(join(tmp, "e"), "run.json").profile).toMatchObject({ hash_cache_hits: 0, steps: { read: 4, hash: 4 } });
}, 120_000);

const small = join(tmp, "small-disk");
let mounted = false;
try {
  mkdirSync(small);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", small], { stdio: "ignore" });
  mounted = true;
} catch {
  /* not permitted here: the refusal test is skipped */
}
afterAll(() => {
  if (mounted) execFileSync("umount", [small]);
});

test.skipIf(!mounted)("a scan larger than the free disk of its state is refused before anything is stored", async () => {
  const state = join(small, "state");
  const r = await runCli(["scan", GPT2_PATH, "--out", join(tmp, "d"), "--state", state, "--layers", "0-1", "--progress", "quiet", "--no-html"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/would store about 18\.\d MiB but only [\d.]+ (MiB|KiB) is free under .*small-disk\/state: use --vectors f16/);
  // nothing stored: no R2 object was written
  const objects = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? objects(join(dir, e.name)) : e.name.endsWith(".sqlite") ? [] : [e.name]));
  expect(objects(state).filter((f) => !f.includes("sqlite"))).toEqual([]);
  // spectra only fit
  const ok = await runCli(["scan", GPT2_PATH, "--out", join(tmp, "d2"), "--state", state, "--layers", "0-1", "--vectors", "none", "--progress", "quiet", "--no-html"]);
  expect(ok.code, ok.stderr).toBe(0);
  expect(json(join(tmp, "d2"), "run.json")).toMatchObject({ computed: 48, vectors: "none" });
}, 180_000);
