/**
 * @module openapi/docs-page
 * GET /docs: the OpenAPI document rendered to HTML on the server (hono/html escapes every value),
 * with no script at all, so it needs nothing from a CDN and runs under the same Content-Security-Policy
 * as the demo page. Styles are served at /assets/docs.css.
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { TensorDoc } from "./operations";

type Json = Record<string, any>;
type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export const DOCS_CSS = `
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color:#1b1f24; }
header, main { max-width: 1100px; margin: 0 auto; padding: 0 16px; }
h1 { font-size:1.6rem; margin:20px 0 4px; } h2 { font-size:1.25rem; margin:28px 0 8px; border-bottom:1px solid #d0d7de; }
h3 { font-size:1rem; margin:18px 0 4px; font-family: ui-monospace, monospace; }
.method { display:inline-block; min-width:3.5em; padding:1px 6px; border-radius:4px; color:#fff; background:#0b5fff; text-transform:uppercase; font-size:.8rem; }
.method.post { background:#1a7f37; } .method.put { background:#8250df; } .method.delete { background:#cf222e; } .auth { color:#9a6700; font-size:.85rem; margin-left:8px; }
table { border-collapse:collapse; margin:6px 0; } td, th { border:1px solid #d0d7de; padding:3px 8px; text-align:left; vertical-align:top; }
th { background:#f6f8fa; } code, pre { font-family: ui-monospace, monospace; font-size:.85rem; }
pre { background:#f6f8fa; padding:8px; overflow:auto; max-height:360px; } section.op { border-top:1px solid #eaeef2; padding-top:4px; }
nav a { margin-right:12px; } details { margin:4px 0; }
`;

const schemaText = (s: Json | undefined): string => {
  if (!s) return "";
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(" | ");
  const parts = [s.type ?? (s.anyOf ? "any of" : "")];
  if (s.pattern) parts.push(`pattern ${s.pattern}`);
  if (s.minimum !== undefined && s.minimum > -1e15) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < 1e15) parts.push(`≤ ${s.maximum}`);
  if (s.default !== undefined) parts.push(`default ${JSON.stringify(s.default)}`);
  return parts.join(", ");
};

const tensorsTable = (tensors: TensorDoc[] | undefined): Html | string =>
  tensors?.length
    ? html`<table><tr><th>tensor</th><th>shape</th><th>dtype</th><th>required</th><th>meaning</th></tr>${tensors.map(
        (t) => html`<tr><td><code>${t.name}</code></td><td><code>${t.shape}</code></td><td>${t.dtypes.join(", ")}</td><td>${t.required ? "yes" : ""}</td><td>${t.description ?? ""}</td></tr>`,
      )}</table>`
    : "";

const content = (c: Json | undefined): Html | string =>
  c
    ? html`${Object.entries(c).map(
        ([type, m]: [string, Json]) => html`<div><code>${type}</code>${m["x-tensors"] ? tensorsTable(m["x-tensors"]) : ""}${
          m.schema && !m["x-tensors"] && m.schema.type !== "string"
            ? html`<details><summary>schema</summary><pre>${JSON.stringify(m.schema, null, 2)}</pre></details>`
            : ""
        }</div>`,
      )}`
    : "";

function operation(path: string, method: string, op: Json): Html {
  const params: Json[] = op.parameters ?? [];
  return html`<section class="op" id="${op.operationId}">
<h3><span class="method ${method}">${method}</span> ${path}${op.security?.length ? html`<span class="auth">bearer token</span>` : ""}</h3>
<p>${op.summary}${op.description ? html` ${op.description}` : ""}</p>
${params.length
    ? html`<table><tr><th>parameter</th><th>in</th><th>schema</th><th>meaning</th></tr>${params.map(
        (p) => html`<tr><td><code>${p.name}</code>${p.required ? " *" : ""}</td><td>${p.in}</td><td><code>${schemaText(p.schema)}</code></td><td>${p.description ?? ""}</td></tr>`,
      )}</table>`
    : ""}
${op.requestBody ? html`<p><strong>Body</strong>: ${op.requestBody.description.split("\n\n")[0]}</p>${content(op.requestBody.content)}` : ""}
<table><tr><th>status</th><th>answer</th></tr>${Object.entries(op.responses as Record<string, Json>).map(
    ([status, r]) => html`<tr><td>${status}</td><td>${r.description.split("\n\n")[0]}${content(r.content)}</td></tr>`,
  )}</table>
${op["x-cache-policy"] ? html`<p>Cache-Control: <code>${op["x-cache-policy"]}</code></p>` : ""}
</section>`;
}

export function renderDocsPage(doc: Json): Html {
  const byTag = new Map<string, Html[]>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = op.tags[0];
      byTag.set(tag, [...(byTag.get(tag) ?? []), operation(path, method, op)]);
    }
  }
  const tags: Array<{ name: string; description: string }> = doc.tags;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>headscope API reference</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/docs.css"></head>
<body><header><h1>${doc.info.title} API</h1><p>${doc.info.summary}. ${doc.info.description}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${doc.openapi}). <a href="/">Demo page</a>.</p>
<nav>${tags.map((t) => html`<a href="#tag-${t.name}">${t.name}</a>`)}</nav></header>
<main>${tags.map((t) => html`<h2 id="tag-${t.name}">${t.name}</h2><p>${t.description}</p>${byTag.get(t.name) ?? ""}`)}
<h2 id="problem">Problem</h2><pre>${JSON.stringify(doc.components.schemas.Problem, null, 2)}</pre></main></body></html>`;
}
