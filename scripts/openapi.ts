/**
 * Writes the worker's OpenAPI document (the one GET /openapi.json serves) to a file, for client
 * generators: `npm run openapi -- out.json`.
 */
import { writeFileSync } from "node:fs";
import { buildDocument } from "../src/openapi/document";

const out = process.argv[2] ?? "build/openapi.json";
writeFileSync(out, `${JSON.stringify(buildDocument(), null, 2)}\n`);
console.log(`wrote ${out}`);
