/**
 * @module routes/problems
 * GET /problems/{slug}: what each problem `type` URI means and what to do about it
 * (wire/problem-help.ts). Browsers (Accept: text/html) get a small page, styled by /assets/docs.css
 * and with no script; everything else gets JSON. The answer varies on Accept.
 */
import { Hono } from "hono";
import { html } from "hono/html";
import { ResultNotFound } from "../errors";
import type { AppEnv } from "../env";
import { PROBLEM_TYPES, type ProblemType } from "../wire/problem";
import { PROBLEM_HELP } from "../wire/problem-help";

/** `code` spans for the backquoted words of the help text (hono/html escapes every part). */
const withCode = (text: string) => text.split("`").map((part, i) => (i % 2 ? html`<code>${part}</code>` : part));

export const problems = new Hono<AppEnv>().get("/problems/:slug", (c) => {
  const slug = c.req.param("slug");
  if (!Object.hasOwn(PROBLEM_TYPES, slug)) {
    throw new ResultNotFound(`no problem type ${slug}; the types are ${Object.keys(PROBLEM_TYPES).join(", ")}`);
  }
  const p = PROBLEM_TYPES[slug as ProblemType];
  const help = PROBLEM_HELP[slug as ProblemType];
  c.header("vary", "accept");
  if (!(c.req.header("accept") ?? "").includes("text/html")) return c.json({ type: `/problems/${slug}`, ...p, ...help });
  return c.html(html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${slug} · headscope problem</title><link rel="stylesheet" href="/assets/docs.css"></head>
<body><header><h1>${p.title}</h1><p><code>type: /problems/${slug}</code> · HTTP ${p.status}</p></header>
<main><h2>What it means</h2><p>${withCode(help.meaning)}</p><h2>What to do</h2><p>${withCode(help.action)}</p>
<p>The answer's <code>detail</code> says what was expected and what was found; quote its <code>request_id</code> when reporting a problem.
<a href="/docs">API reference</a> · <a href="/v1">routes</a></p></main></body></html>`);
});
