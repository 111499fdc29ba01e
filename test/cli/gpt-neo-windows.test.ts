/** GPT-Neo's per-layer attention windows from config.json: one reader for the forward pass and SAD's firing rule. */
import { expect, test } from "vitest";
import { gptNeoWindows } from "../../src/cli/architectures/gpt-neo";

test("attention_types expands into layers; window_size (default 256) for local ones, 0 for global", () => {
  expect(gptNeoWindows({ attention_types: [[["global", "local"], 2]], window_size: 4 }, 4)).toEqual([0, 4, 0, 4]);
  expect(gptNeoWindows({ attention_layers: ["local", "global"] }, 2)).toEqual([256, 0]);
});

test("a config that does not say which layers are local is refused", () => {
  expect(() => gptNeoWindows({}, 2)).toThrow(/which of the 2 layers are global and which local/);
  expect(() => gptNeoWindows({ attention_layers: ["global"] }, 2)).toThrow(/attention_layers or attention_types/);
  expect(() => gptNeoWindows({ attention_layers: ["global", "sparse"] }, 2)).toThrow(/global and which local/);
});
