/**
 * @module openapi/document
 * The OpenAPI 3.1 document of the worker, generated from OPERATIONS with zod 4's own JSON Schema
 * conversion (JSON Schema 2020-12, OpenAPI 3.1's dialect): parameters from the schemas the routes
 * validate with (their input side: what a client sends), answers from the answer schemas (their output
 * side). Binary bodies are described as octet streams with their tensors listed (names, shapes,
 * dtypes) in the description and in `x-tensors`. Built once per isolate.
 */
import * as z from "zod/mini";
import { PROBLEM_TYPES, type ProblemType } from "../wire/problem";
import { CACHE_CONTROL, GET_CACHE_POLICY } from "../http/cache";
import { CORS_POLICY, SAME_ORIGIN_ONLY } from "../http/cors";
import { SvdAnswerSchema } from "../wire/svd-result";
import { ToyReportSchema } from "../wire/toy-report";
import { ScanJobStatusSchema } from "../wire/scan-job";
import { ActivationAnswerSchema } from "../wire/activations";
import {
  AlignmentAnswerSchema, CheckpointManifestSchema, DemoAnalysisSchema, ModelSummarySchema, ProblemAnswerSchema, SadAnswerSchema, ToyReportListSchema,
} from "./answers";
import { OPERATIONS, type BinaryDoc, type Operation, type TensorDoc } from "./operations";

type Json = Record<string, unknown>;

/** A zod schema as a JSON Schema 2020-12 object without its `$schema` (the document sets the dialect). */
export function jsonSchema(schema: z.ZodMiniType, io: "input" | "output"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  return rest;
}

/** `/a/:b/c` → `/a/{b}/c` */
export const openApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");

/** Answer schemas shared by several operations: emitted once under components.schemas and referenced. */
const NAMED = new Map<z.ZodMiniType, string>([
  [SvdAnswerSchema, "SvdAnswer"], [SadAnswerSchema, "SadAnswer"], [AlignmentAnswerSchema, "AlignmentAnswer"],
  [ModelSummarySchema, "ModelSummary"], [ToyReportSchema, "ToyReport"], [ToyReportListSchema, "ToyReportList"],
  [DemoAnalysisSchema, "DemoAnalysis"], [ProblemAnswerSchema, "Problem"], [ScanJobStatusSchema, "ScanJobStatus"],
  [CheckpointManifestSchema, "CheckpointManifest"], [ActivationAnswerSchema, "ActivationAnswer"],
]);

/** A schema for the document: a $ref when it is a named component (added to `components`), else inline. */
function schemaFor(schema: z.ZodMiniType, io: "input" | "output", components: Json): Json {
  const name = NAMED.get(schema);
  if (!name) return jsonSchema(schema, io);
  const key = io === "input" ? `${name}Input` : name;
  components[key] ??= jsonSchema(schema, io);
  return { $ref: `#/components/schemas/${key}` };
}

const tensorTable = (tensors: TensorDoc[]) =>
  tensors
    .map((t) => `- \`${t.name}\` ${t.shape} ${t.dtypes.join("/")}${t.required ? " (required)" : ""}${t.description ? `: ${t.description}` : ""}`)
    .join("\n");

const binaryContent = (b: BinaryDoc) => ({
  [b.mediaType]: {
    // OpenAPI 3.1: binary content is described by its media type, not as a JSON string
    schema: { contentMediaType: b.mediaType, description: `${b.format}: ${b.description}` },
    "x-format": b.format,
    "x-tensors": b.tensors,
  },
});

function parameters(op: Operation): Json[] {
  const out: Json[] = [];
  const add = (where: "path" | "query", obj: z.ZodMiniObject | undefined) => {
    if (!obj) return;
    // path parameters as the route reads them (integers with bounds: their coercing pipe's output
    // side); query options as sent (strings like "true" before their transform)
    const s = jsonSchema(obj, where === "path" ? "output" : "input") as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(s.properties ?? {})) {
      const text = where === "query" ? op.queryText?.[name] : undefined;
      out.push({ name, in: where, required: where === "path" || (s.required ?? []).includes(name), schema, ...(text ? { description: text } : {}) });
    }
  };
  add("path", op.pathParams);
  add("query", op.query);
  return out;
}

const cacheHeaders = {
  ETag: { description: "strong validator: the content hash of a stored object, or the SHA-256 of the answer", schema: { type: "string" } },
  "Cache-Control": { description: "immutable for content-addressed results; short and revalidated for answers that change", schema: { type: "string" } },
};

function responses(op: Operation, components: Json): Json {
  const out: Json = {};
  const ok = op.ok;
  const content =
    "json" in ok ? { "application/json": { schema: schemaFor(ok.json, "output", components) } }
    : "text" in ok ? { [ok.text]: { schema: { type: "string" } } }
    : "empty" in ok ? undefined
    : binaryContent(ok);
  const description = "tensors" in ok && ok.tensors.length ? `${ok.description}\n\n${tensorTable(ok.tensors)}` : ok.description;
  for (const status of ok.statuses) {
    out[String(status)] = { description, ...(content ? { content } : {}), ...(op.method === "get" ? { headers: cacheHeaders } : {}) };
  }
  if (op.method === "get") out["304"] = { description: "Not Modified: If-None-Match matched the ETag", headers: cacheHeaders };
  const byStatus = new Map<number, ProblemType[]>();
  for (const slug of op.problems) {
    const status = PROBLEM_TYPES[slug].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), slug]);
  }
  for (const [status, slugs] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: slugs.map((s) => `/problems/${s}: ${PROBLEM_TYPES[s].title}`).join("; "),
      content: { "application/problem+json": { schema: schemaFor(ProblemAnswerSchema, "output", components) } },
    };
  }
  return out;
}

function requestBody(op: Operation, components: Json): Json | undefined {
  const b = op.body;
  if (!b) return undefined;
  if ("json" in b) {
    return { required: true, description: `at most ${b.maxBytes} bytes`, content: { "application/json": { schema: schemaFor(b.json, "input", components) } } };
  }
  const table = b.tensors.length ? `\n\n${tensorTable(b.tensors)}` : "";
  return { required: true, description: `${b.description} At most ${b.maxBytes} bytes.${table}`, content: binaryContent(b) };
}

function operation(op: Operation, components: Json): Json {
  const params = parameters(op);
  const body = requestBody(op, components);
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: responses(op, components),
    security: op.auth ? [{ bearer: [] }] : [],
    ...(op.method === "get" ? { "x-cache-policy": policyOf(op.path) } : {}),
    ...((SAME_ORIGIN_ONLY as readonly string[]).includes(op.path) ? { "x-cors": "same origin only" } : {}),
  };
}

const policyOf = (path: string) => {
  const p = GET_CACHE_POLICY[path];
  return p === undefined ? CACHE_CONTROL.none : typeof p === "function" ? `${CACHE_CONTROL.immutable} with ?sha256=, else ${CACHE_CONTROL.changing}` : CACHE_CONTROL[p];
};

export function buildDocument(ops: readonly Operation[] = OPERATIONS): Json {
  const paths: Record<string, Json> = {};
  const schemas: Json = {};
  for (const op of ops) {
    const p = (paths[openApiPath(op.path)] ??= {});
    if (p[op.method]) throw new Error(`openapi: ${op.method} ${op.path} listed twice`);
    p[op.method] = operation(op, schemas);
  }
  return {
    openapi: "3.1.0",
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    info: {
      title: "headscope",
      version: "1",
      summary: "Singular vectors of attention heads: factored SVD, sparse attention decomposition and feature alignment",
      description:
        "Writes need `Authorization: Bearer <token>`; reads are public. Every error is application/problem+json (RFC 9457) with a stable `type`. " +
        `CORS: any origin (${CORS_POLICY.allowMethods.join(", ")}; headers ${CORS_POLICY.allowHeaders.join(", ")}), never credentials. ` +
        "Results addressed by content hash are immutable (strong ETag, If-None-Match → 304). Body formats: safetensors (https://huggingface.co/docs/safetensors) and NumPy .npy.",
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "heads", description: "SVD of one head's QK or OV circuit" },
      { name: "analyses", description: "sparse attention decomposition and feature alignment" },
      { name: "activations", description: "stored token vectors for SAD requests (?activations=ID)" },
      { name: "checkpoints", description: "checkpoints uploaded shard by shard for server-side scans" },
      { name: "scans", description: "server-side scan jobs over a registered checkpoint" },
      { name: "models", description: "what is stored per model" },
      { name: "toy", description: "toy-model reports" },
      { name: "demo", description: "the demo page" },
      { name: "documents", description: "this document, problem types" },
    ],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "the deployment's write token (secret HEADSCOPE_TOKEN)" } },
      schemas,
    },
  };
}

let cached: string | undefined;
/** The document as JSON text (built once per isolate). */
export const documentText = () => (cached ??= JSON.stringify(buildDocument()));
