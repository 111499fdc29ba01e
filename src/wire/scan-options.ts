/**
 * @module wire/scan-options
 * The scan options as the CLI spells them (`--circuits qk,ov`, `--layers 0-3,7`, `--heads all`,
 * `--variants default`, `--rotary-offsets 0,8`), checked against a model's facts. Shared by the CLI's
 * client-coordinated scan and the worker's scan jobs (`POST /v1/scans`), so both accept and refuse
 * exactly the same things. Pure: no Node, no bindings.
 */
import { CIRCUITS, type Circuit } from "./head-request";

/** A bad option: the CLI exits 2 with the message, the worker answers 400 invalid-request. */
export class ScanOptionError extends Error {
  override name = "ScanOptionError";
  constructor(readonly option: string, message: string) {
    super(message);
  }
}

export interface ScanOptionStrings {
  circuits: string;
  layers: string;
  heads: string;
  variants: string;
  rotaryOffsets: string;
}

export const DEFAULT_SCAN_OPTIONS: ScanOptionStrings = { circuits: "all", layers: "all", heads: "all", variants: "default", rotaryOffsets: "0" };

export interface ResolvedScanOptions {
  circuits: Circuit[];
  variants: string[];
  offsets: number[];
  layers: number[];
  heads: number[];
}

const VARIANT_CHOICES = ["default", "raw", "raw_augmented", "folded", "folded_augmented"];

/** "all" or a list like "0,2,5-7", each within [0, n). */
export function parseIndexList(spec: string, n: number, what: string): number[] {
  if (spec === "all") return [...Array(n).keys()];
  const out = new Set<number>();
  for (const part of spec.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new ScanOptionError(what, `--${what}: ${JSON.stringify(part)} is not an index or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b >= n) throw new ScanOptionError(what, `--${what}: ${part} is outside 0..${n - 1}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

export function resolveScanOptions(
  o: ScanOptionStrings,
  facts: { architecture: string; n_layers: number; n_heads: number; rotary_dim: number },
): ResolvedScanOptions {
  const circuits = o.circuits === "all" ? [...CIRCUITS] : (o.circuits.split(",").map((s) => s.trim()) as Circuit[]);
  for (const c of circuits) if (!CIRCUITS.includes(c)) throw new ScanOptionError("circuits", `--circuits: unknown circuit ${c}; use qk, ov or all`);
  const variants = o.variants.split(",").map((s) => s.trim());
  for (const v of variants) if (!VARIANT_CHOICES.includes(v)) throw new ScanOptionError("variants", `--variants: unknown variant ${v}`);
  const offsets = o.rotaryOffsets.split(",").map((s) => Number(s.trim()));
  if (offsets.some((x) => !Number.isSafeInteger(x) || x < 0)) throw new ScanOptionError("rotary-offsets", "--rotary-offsets: non-negative integers, e.g. 0,1,8");
  if (facts.rotary_dim === 0 && offsets.some((x) => x !== 0)) {
    throw new ScanOptionError("rotary-offsets", `--rotary-offsets: ${facts.architecture} has no rotary embeddings`);
  }
  return {
    circuits, variants, offsets,
    layers: parseIndexList(o.layers, facts.n_layers, "layers"),
    heads: parseIndexList(o.heads, facts.n_heads, "heads"),
  };
}
