/**
 * @module cli/wrangler-config
 * The values of wrangler.toml the embedded local worker needs, read with a TOML parser (smol-toml),
 * so the file stays the one source of truth whatever its formatting.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";

interface WranglerToml {
  compatibility_date?: string;
  r2_buckets?: Array<{ binding?: string; bucket_name?: string }>;
  kv_namespaces?: Array<{ binding?: string; id?: string }>;
  ratelimits?: Array<{ name?: string; simple?: { limit?: number; period?: number } }>;
}

export function readWranglerToml(root: string) {
  const file = join(root, "wrangler.toml");
  let toml: WranglerToml;
  try {
    toml = parse(readFileSync(file, "utf8")) as WranglerToml;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`wrangler.toml: ${what} not found`);
    return v;
  };
  return {
    compatibilityDate: need(toml.compatibility_date, "compatibility_date"),
    bucket: need(toml.r2_buckets?.[0]?.bucket_name, "r2 bucket_name"),
    kvId: need(toml.kv_namespaces?.[0]?.id, "kv namespace id"),
    /** [[ratelimits]] bindings: name → simple { limit, period } */
    ratelimits: Object.fromEntries(
      (toml.ratelimits ?? [])
        .filter((r) => r.name && r.simple?.limit !== undefined && r.simple.period !== undefined)
        .map((r) => [r.name!, { simple: { limit: Number(r.simple!.limit), period: Number(r.simple!.period) } }]),
    ),
  };
}
