/**
 * The default model name (cli/scan.ts defaultModelName): one model reached by different paths is
 * stored under one name — config.json's _name_or_path, else the folder of a generic Hugging Face
 * file name, else the file's own name.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { defaultModelName } from "../../src/cli/scan";

const tmp = mkdtempSync(join(tmpdir(), "headscope-names-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: string[], config?: object): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  for (const f of files) writeFileSync(join(d, f), "");
  if (config) writeFileSync(join(d, "config.json"), JSON.stringify(config));
  return d;
}

describe("defaultModelName", () => {
  test("the folder, its model.safetensors, its index and a shard give one name", () => {
    const d = folder("pythia-160m", ["model.safetensors", "model-00001-of-00002.safetensors", "model.safetensors.index.json"], { model_type: "gpt_neox" });
    const names = [d, `${d}/`, join(d, "model.safetensors"), join(d, "model.safetensors.index.json"), join(d, "model-00001-of-00002.safetensors")].map(defaultModelName);
    expect(new Set(names)).toEqual(new Set(["pythia-160m"]));
  });

  test("config.json's _name_or_path wins: a hub id becomes org--name, so copies in other folders are one model", () => {
    const a = folder("copy-a", ["model.safetensors"], { _name_or_path: "EleutherAI/pythia-160m", model_type: "gpt_neox" });
    const b = folder("elsewhere/b", ["model.safetensors"], { _name_or_path: "EleutherAI/pythia-160m" });
    expect(defaultModelName(a)).toBe("EleutherAI--pythia-160m");
    expect(defaultModelName(join(b, "model.safetensors"))).toBe("EleutherAI--pythia-160m");
  });

  test("a local _name_or_path gives its last folder; model_type alone is never a name", () => {
    expect(defaultModelName(folder("ft", ["model.safetensors"], { _name_or_path: "/mnt/ckpts/llama-3-8b-ft/" }))).toBe("llama-3-8b-ft");
    expect(defaultModelName(folder("gpt2-medium", ["model.safetensors"], { model_type: "gpt2" }))).toBe("gpt2-medium");
  });

  test("a lone file with a name of its own keeps it (no config.json)", () => {
    const d = folder("models", ["gpt2-small-attn.safetensors"]);
    expect(defaultModelName(join(d, "gpt2-small-attn.safetensors"))).toBe("gpt2-small-attn");
  });
});
