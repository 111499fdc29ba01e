/**
 * `npm run demo:seed`: fills a running worker (default: `npm start`'s, http://127.0.0.1:8787, with
 * HEADSCOPE_TOKEN) with the demo page's data: the GPT-2 small scan, layer 0's positional SAD and a
 * published single-pair toy run.
 */
import { parseArgs } from "node:util";
import { seedDemo } from "./demo/seed";
import { handleUsage } from "./usage.mjs";

handleUsage(`npm run demo:seed [-- --endpoint URL] [--checkpoint FILE]

Fills a running worker with what the demo page shows: the GPT-2 small scan, layer 0's positional SAD
and a published single-pair toy run.

  --endpoint URL      the worker (default http://127.0.0.1:8787, npm start's)
  --checkpoint FILE   GPT-2 small safetensors (default ../shared/models/gpt2-small-attn.safetensors)
  --token T           its write token (default and preferred: HEADSCOPE_TOKEN, which keeps it off ps)`, { flags: { "--endpoint": true, "--token": true, "--checkpoint": true }, positionals: 0 });

const { values } = parseArgs({
  options: {
    endpoint: { type: "string", default: "http://127.0.0.1:8787" },
    token: { type: "string", default: process.env.HEADSCOPE_TOKEN },
    checkpoint: { type: "string" },
  },
});
if (!values.token) {
  console.error("demo:seed needs the worker's write token: --token T or HEADSCOPE_TOKEN (npm start prints it)");
  process.exit(2);
}
await seedDemo({ endpoint: values.endpoint!, token: values.token, checkpoint: values.checkpoint });
console.log(`seeded ${values.endpoint}: open it in a browser`);
