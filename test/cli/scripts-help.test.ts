/**
 * `--help` on every npm script that runs a program of this project (package.json is read, so a new
 * script is covered when it is added): usage on stdout and exit 0, before anything is built, started
 * or measured; an unknown option is refused with exit 2 instead of being ignored (or crashing, as
 * demo:seed's argument parser did). Entries that npm builds with esbuild first are bundled here the
 * same way, into build/help-test/.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { describe, expect, test } from "vitest";
import { PROJECT_ROOT as ROOT } from "../support/paths";

const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<string, string>;
/** npm start hands its arguments to wrangler dev; build:cli and openapi are build steps of other scripts */
const EXCLUDED = new Set(["start", "build:cli", "openapi"]);

/** A script's command with the `npm run X` it calls replaced by X's command (to find the esbuild step). */
const expand = (command: string): string =>
  command.replace(/npm run ([\w:-]+)(?: --silent)?/g, (_, n: string) => (scripts[n] ? expand(scripts[n]) : ""));

/** The program an npm script ends by running (`node FILE [args…]`), and the esbuild entry that writes it, if any. */
function entryOf(command: string): { run: string[]; source?: string } | undefined {
  const m = /(?:^|&& )node ((?:build|bench|scripts)\/\S+\.mjs)((?: [a-z]+)*)\s*$/.exec(command);
  if (!m) return undefined;
  const built = m[1];
  const esb = new RegExp(`esbuild (\\S+\\.ts) [^&]*--outfile=${built.replace(/[./]/g, "\\$&")}`).exec(command);
  return { run: [built, ...m[2].trim().split(" ").filter(Boolean)], source: esb?.[1] };
}

const programs = Object.entries(scripts)
  .filter(([name]) => !EXCLUDED.has(name))
  .map(([name, command]) => ({ name, entry: entryOf(expand(command)) }))
  .filter((x): x is { name: string; entry: NonNullable<ReturnType<typeof entryOf>> } => x.entry !== undefined);

describe("every npm script that takes arguments answers --help", () => {
  test("the scripts found include the ones the issue names", () => {
    expect(programs.map((p) => p.name)).toEqual(
      expect.arrayContaining(["scan", "soak", "fuzz", "load", "faults", "toy", "demo:seed", "bench:svd", "bench:sad", "bench:scan", "bench:server-scan", "bench:toy", "bench:forward", "bench:sad-rotary"]),
    );
  });

  for (const { name, entry } of programs) {
    test(`npm run ${name} -- --help`, () => {
      let file = join(ROOT, entry.run[0]);
      if (entry.source) {
        mkdirSync(join(ROOT, "build/help-test"), { recursive: true });
        file = join(ROOT, "build/help-test", `${name.replace(/:/g, "-")}.mjs`);
        buildSync({
          entryPoints: [join(ROOT, entry.source)], outfile: file, bundle: true, platform: "node", format: "esm",
          packages: "external", loader: { ".wasm": "empty" }, logLevel: "silent",
        });
      }
      const run = (args: string[]) => spawnSync(process.execPath, [file, ...entry.run.slice(1), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      const help = run(["--help"]);
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/usage|npm run|Options|--help/i);
      expect(help.stderr).not.toMatch(/Error|at .*:\d+:\d+/);
      if (name !== "scan" && name !== "toy") {
        expect(help.stdout.startsWith(`npm run ${name}`)).toBe(true);
        const bad = run(["--no-such-option"]);
        expect(bad.status).toBe(2);
        expect(bad.stderr).toMatch(/^unknown option --no-such-option\n\nnpm run /);
      }
    });
  }
});
