/**
 * The project root, found by walking up from this module to headscope's package.json, so paths stay
 * right whether this code runs from its source file or bundled into build/.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "headscope") return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find headscope's package.json above " + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const PROJECT_ROOT = findRoot();
/** ../shared beside the repository: real weights and reference values, never copied in */
export const SHARED = join(PROJECT_ROOT, "..", "shared");
