/**
 * Bad checkpoints through the real CLI: a clear message, exit code 2, and nothing stored — the
 * checkpoint is validated before the local worker (and its state directory) even exists.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ROOT, runCli } from "../support/cli";
import { writeCheckpoint, type RawTensor } from "../support/checkpoints";

const tmp = mkdtempSync(join(tmpdir(), "headscope-bad-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const t = (...shape: number[]): RawTensor => ({ shape, data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)) });
function tinyGpt2(dir: string, drop?: string): string {
  const d = 8;
  const tensors: Record<string, RawTensor> = {};
  for (let l = 0; l < 2; l++) {
    Object.assign(tensors, {
      [`h.${l}.ln_1.weight`]: t(d), [`h.${l}.ln_1.bias`]: t(d), [`h.${l}.attn.c_attn.weight`]: t(d, 3 * d),
      [`h.${l}.attn.c_attn.bias`]: t(3 * d), [`h.${l}.attn.c_proj.weight`]: t(d, d),
    });
  }
  if (drop) delete tensors[drop];
  return writeCheckpoint(join(tmp, dir), tensors, { dtype: "F32", config: { model_type: "gpt2", n_head: 2 } });
}

async function expectRejected(path: string, message: RegExp, extra: string[] = []) {
  const state = join(tmp, `state-${Math.random().toString(36).slice(2)}`);
  const r = await runCli(["scan", path, "--out", join(tmp, "out"), "--state", state, ...extra]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/at .*\.mjs:\d+/); // a message, not a stack
  expect(existsSync(state)).toBe(false); // no worker started, nothing stored
}

describe("bad input: clear message, exit 2, nothing stored", () => {
  test("a valid tiny checkpoint scans (control)", async () => {
    const r = await runCli(["scan", tinyGpt2("ok"), "--out", join(tmp, "ok-out"), "--state", join(tmp, "ok-state"), "--progress", "quiet"]);
    expect(r.stderr).toContain("8 computed");
    expect(r.code).toBe(0);
  });

  test("truncated file", async () => {
    const path = tinyGpt2("truncated");
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 100));
    await expectRejected(path, /malformed-safetensors: file model\.safetensors: tensor .* outside the \d+ data bytes/);
  });

  test("header length claiming more bytes than exist", async () => {
    const path = tinyGpt2("long-header");
    const bytes = new Uint8Array(readFileSync(path));
    new DataView(bytes.buffer).setBigUint64(0, 50_000_000n, true);
    writeFileSync(path, bytes);
    await expectRejected(path, /malformed-safetensors: header length 50000000 runs past the end of the \d+-byte file model\.safetensors/);
  });

  test("a torch.save file renamed .safetensors: said to be no safetensors file, with what it looks like", async () => {
    const path = tinyGpt2("torch-zip");
    writeFileSync(path, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0, 8, 0]), Buffer.alloc(200, 7)]));
    await expectRejected(path, /malformed-safetensors: not a safetensors file: the file model\.safetensors starts with a zip archive \(PyTorch's torch\.save/);
  });

  test("tensor shapes claiming more data than the file holds", async () => {
    const path = tinyGpt2("big-shape");
    const text = readFileSync(path, "latin1").replace('"shape":[8,24]', '"shape":[8,99]');
    writeFileSync(path, text, "latin1");
    await expectRejected(path, /malformed-safetensors: .*needs .* bytes, data_offsets give/);
  });

  test("a tensor in an integer dtype (found in the header, before any weight is read)", async () => {
    const path = tinyGpt2("int-dtype");
    const text = readFileSync(path, "latin1");
    const changed = text.replace(/("h\.1\.attn\.c_proj\.weight":\{"dtype":)"F32"/, '$1"I32"');
    expect(changed).not.toBe(text);
    writeFileSync(path, changed, "latin1");
    await expectRejected(path, /tensor h\.1\.attn\.c_proj\.weight has dtype I32; a scan reads F32, F16, BF16, F64/);
  });

  test("unknown architecture", async () => {
    const path = writeCheckpoint(join(tmp, "bert"), { "bert.encoder.layer.0.attention.self.query.weight": t(8, 8) }, { dtype: "F32" });
    await expectRejected(path, /unknown architecture: no attention tensors of gpt2, gpt-neo, gpt-neox, llama found/);
  });

  test("missing tensors", async () => {
    await expectRejected(tinyGpt2("missing", "h.1.attn.c_attn.bias"), /missing tensors: h\.1\.attn\.c_attn\.bias/);
  });

  test("missing file, bad option", async () => {
    await expectRejected(join(tmp, "nope.safetensors"), /no such file or directory/);
    await expectRejected(tinyGpt2("opt"), /--layers: 7 is outside 0\.\.1/, ["--layers", "7"]);
  });
});

describe("no checkpoint argument", () => {
  test("scans the generated example model (same bytes every time) and writes both reports, from any directory", async () => {
    const out = join(tmp, "example-out");
    // run from outside the project: module paths of the embedded worker must not depend on the working directory
    const r = await runCli(["scan", "--out", out, "--state", join(tmp, "example-state"), "--progress", "quiet"], { cwd: tmp });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(report.model).toBe("example-tiny-gpt2");
    expect(report.facts).toMatchObject({ architecture: "gpt2", n_layers: 4, n_heads: 4, d_model: 128, d_head: 32, n_heads_source: "config.json" });
    expect(report.entries).toHaveLength(32);
    expect(existsSync(join(out, "report.html"))).toBe(true);
    const { createHash } = await import("node:crypto");
    const { exampleTensors } = await import("../../src/cli/example-model");
    const { encodeSafetensors } = await import("../../src/wire/safetensors");
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
    expect(sha(encodeSafetensors(exampleTensors(), { format: "pt", generator: "headscope example-model" }))).toBe(
      sha(readFileSync(join(ROOT, "build/example/example-tiny-gpt2/model.safetensors"))),
    );
  });
});
