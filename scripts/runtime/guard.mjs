/**
 * No orphans: what the CLI's embedded worker, `npm start`, the test helpers and the benchmarks use
 * so that workerd (and wrangler) never outlive the Node process that started them, including when
 * it is killed with SIGKILL or crashes. Both functions take the project root (this file is also
 * bundled into the CLI, where import.meta.url is the bundle's).
 *
 * - workerdGuardEnv(root): environment for whatever starts Miniflare (the CLI in-process, or a
 *   wrangler child): Miniflare runs MINIFLARE_WORKERD_PATH instead of its workerd, here
 *   scripts/runtime/workerd.sh, which execs the real binary (HEADSCOPE_WORKERD) through
 *   no-orphans.sh (Linux: the kernel's parent-death signal; elsewhere a polling watcher).
 * - guardedCommand(root, command, args): the same for a direct child (the CLI under the benchmarks).
 * - wranglerCommand(root, args): `wrangler …`, guarded. wrangler's bin script only re-spawns
 *   wrangler-dist/cli.js in a second Node process (which a guard on the bin script would not
 *   reach), so this runs cli.js directly with the same Node flags.
 *
 * On Windows (no sh) both leave things as they are.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const usable = (root) => process.platform !== "win32" && existsSync(join(root, "scripts/runtime/no-orphans.sh"));

export const DEFAULT_WORKERD_V8_FLAGS = "--single-threaded-gc";

/** @param {string} root @returns {Record<string, string>} */
export function workerdGuardEnv(root) {
  if (!usable(root)) return {};
  const wrapper = join(root, "scripts/runtime/workerd.sh");
  let real = process.env.HEADSCOPE_WORKERD;
  if (!real) {
    const own = process.env.MINIFLARE_WORKERD_PATH;
    // the workerd package's main export is the path of its binary
    real = own && own !== wrapper ? own : createRequire(join(root, "package.json"))("workerd").default;
  }
  // V8 flags for workerd (workerd.sh): --single-threaded-gc unless HEADSCOPE_WORKERD_V8_FLAGS says
  // otherwise ("" for none). Why: on a machine with few cores V8's worker pool is one or two threads,
  // and workerd's runtime livelocks when they all wait for a garbage collection while the main thread
  // drains cppgc sweep tasks that re-post themselves (README "Worker"; issue 17)
  const v8Flags = process.env.HEADSCOPE_WORKERD_V8_FLAGS ?? DEFAULT_WORKERD_V8_FLAGS;
  return { MINIFLARE_WORKERD_PATH: wrapper, HEADSCOPE_WORKERD: real, HEADSCOPE_WORKERD_V8_FLAGS: v8Flags, HEADSCOPE_NODE: process.execPath };
}

/** @param {string} root @param {string} command @param {string[]} args @returns {[string, string[]]} */
export function guardedCommand(root, command, args) {
  if (!usable(root)) return [command, args];
  return [join(root, "scripts/runtime/no-orphans.sh"), [command, ...args]];
}

/** @param {string} root @param {string[]} args @returns {[string, string[]]} */
export function wranglerCommand(root, args) {
  const cli = join(root, "node_modules/wrangler/wrangler-dist/cli.js");
  return guardedCommand(root, process.execPath, ["--no-warnings", "--experimental-vm-modules", cli, ...args]);
}
