/**
 * Global setup of the `node` project: builds what the CLI, browser and local-worker tests run (the
 * kernels, the demo scripts, build/cli/headscope.mjs and build/worker/) once, before any test file
 * starts, so no file rebuilds them while another runs from them.
 */
import { buildCli } from "./cli";

export default function setup() {
  buildCli();
}
